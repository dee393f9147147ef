"""The engine as the UI sees it: `python -m engine` processes, their events, run.json,
checkpoints, signals and exit codes -- on the embedded corpus, on CPU."""

from __future__ import annotations

import math
import signal
import subprocess
from pathlib import Path

import pytest
import tomli_w
import torch

from engine.events import EventSink
from engine.lifecycle import OOM_HINT, is_out_of_memory, run_engine
from engine.protocol import EVENT_FIELDS, parse_line
from engine.rundir import CHECKPOINT_FILE
from engine.stop import StopRequest
from engine.train import Trainer
from engine.train import token_cache_dir as cache_dir_for
from engine_helpers import (engine_command, engine_env, of_type, quick_config, read_events, read_run_json,
                            run_subprocess, train_in_process, write_run, ROOT)


def _losses(events):
    return [e["loss"] for e in of_type(events, "step")]


def test_quick_preset_run_learns_and_reports_every_event_the_ui_reads(runs_dir, token_cache_dir):
    """A shortened quick run: stdout and events.jsonl carry the same protocol lines, the
    loss clearly falls, and run.json ends completed."""
    # The run store's default cache (<runs>/.cache) is the session's, so nothing is tokenised again.
    (runs_dir / ".cache").symlink_to(token_cache_dir, target_is_directory=True)
    cfg = quick_config("", "train.max_steps=60", "eval.eval_every=30", "train.experts_every=20",
                       "train.log_every=2", tiny=False)
    run_dir = runs_dir / "quick"
    proc = run_subprocess(run_dir, cfg)
    assert proc.returncode == 0, proc.stderr

    events = read_events(run_dir)
    assert [parse_line(line) for line in proc.stdout.splitlines()] == events  # stdout = the file
    assert "Traceback" not in proc.stderr and proc.stderr.strip()  # human log on stderr
    for event in events:
        assert set(EVENT_FIELDS[event["type"]]) <= set(event), event["type"]
    assert of_type(events, "prepare")[-1]["stage"] == "ready"
    assert any(token_cache_dir.iterdir())

    start = of_type(events, "start")[0]
    assert start["resumed"] is False and start["device"] == "cpu" and start["dtype"] == "fp32"
    assert start["tokens_per_step"] == 16 * 128 and start["max_steps"] == 60
    assert 0 < start["params_active"] < start["params_total"]
    assert start["config"]["model"]["d_model"] == 128

    steps = of_type(events, "step")
    assert [e["step"] for e in steps] == list(range(2, 61, 2))
    assert steps[-1]["tokens"] == 60 * 16 * 128 and steps[-1]["tokens_per_s"] > 0
    first, last = sum(_losses(events)[:3]) / 3, sum(_losses(events)[-3:]) / 3
    assert last < first - 1.0, (first, last)

    evals = of_type(events, "eval")
    assert [e["step"] for e in evals] == [30, 60]
    assert evals[1]["val_loss"] < evals[0]["val_loss"]
    assert evals[1]["val_perplexity"] == pytest.approx(math.exp(evals[1]["val_loss"]), rel=1e-6)
    assert 0 < evals[1]["val_accuracy"] < 0.5

    for experts in of_type(events, "experts"):
        assert len(experts["load"]) == 2 and all(len(row) == 4 for row in experts["load"])
        assert all(sum(row) == pytest.approx(1.0, abs=1e-3) for row in experts["load"])

    end = events[-1]
    assert end["type"] == "end" and end["status"] == "completed" and end["step"] == 60
    assert end["metrics"]["val_loss"] == evals[1]["val_loss"] and end["metrics"]["steps"] == 60
    assert (run_dir / CHECKPOINT_FILE).exists()
    record = read_run_json(run_dir)
    assert record["status"] == "completed" and record["device"] == "cpu" and record["ended"] >= record["started"]


def test_the_token_cache_defaults_to_the_run_stores_cache_beside_the_runs(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    assert cache_dir_for(quick_config(""), run_dir) == tmp_path / "runs" / ".cache"
    assert cache_dir_for(quick_config("/data/tok"), run_dir) == Path("/data/tok")


def test_same_seed_gives_identical_losses_and_another_seed_does_not(tmp_path, token_cache_dir):
    cfg = quick_config(token_cache_dir, "train.max_steps=4", "model.dropout=0.1", "moe.router_noise_std=0.1")
    _, a = train_in_process(tmp_path / "a", cfg)
    _, b = train_in_process(tmp_path / "b", cfg)
    _, c = train_in_process(tmp_path / "c", cfg.apply_overrides(["train.seed=7"]))
    assert _losses(a) == _losses(b)
    assert _losses(a) != _losses(c)


def test_stopping_at_step_5_and_resuming_gives_exactly_the_uninterrupted_losses(tmp_path, token_cache_dir):
    """10 + 10 steps equal 20 steps bit for bit: weights, both optimizers, the schedule's
    step, the data position and the RNG (dropout, router noise) all come back."""
    cfg = quick_config(token_cache_dir, "train.max_steps=10", "model.dropout=0.1", "moe.router_noise_std=0.1",
                       "train.gradient_accumulation_steps=2", "eval.eval_every=4")
    _, whole = train_in_process(tmp_path / "whole", cfg)
    # max_steps counts optimizer steps, and the last one runs at the schedule's floor.
    assert [e["step"] for e in of_type(whole, "step")] == list(range(1, 11))
    assert of_type(whole, "step")[-1]["lr"] == pytest.approx(0.1 * cfg.optim.muon_lr)
    assert of_type(whole, "step")[-1]["adamw_lr"] == pytest.approx(0.1 * cfg.adamw_lr)

    stop = StopRequest()
    run_dir = tmp_path / "split"
    code, first = train_in_process(run_dir, cfg, stop=stop,
                                   listener=lambda e: e["type"] == "step" and e["step"] == 5 and stop.request())
    assert code == 0 and first[-1]["status"] == "stopped" and first[-1]["step"] == 5
    assert of_type(first, "checkpoint")[-1]["step"] == 5
    # Evaluated where it stopped (not only at step 4), and that is what its end reports.
    assert [e["step"] for e in of_type(first, "eval")] == [4, 5]
    assert first[-1]["metrics"]["val_loss"] == of_type(first, "eval")[-1]["val_loss"]
    assert read_run_json(run_dir)["status"] == "stopped"

    code, second = train_in_process(run_dir, cfg, resume=True)
    assert code == 0 and second[-1]["status"] == "completed"
    start = of_type(second, "start")[0]
    assert start["resumed"] is True and start["step"] == 5
    assert _losses(first) + _losses(second) == _losses(whole)
    assert [e["val_loss"] for e in of_type(second, "eval")] == [e["val_loss"] for e in of_type(whole, "eval")][1:]
    assert second[-1]["metrics"]["tokens"] == whole[-1]["metrics"]["tokens"]


@pytest.mark.gpu
@pytest.mark.parametrize("amp_dtype", ["auto", "fp16"])
def test_a_cuda_run_trains_under_autocast_with_tf32_and_resumes_with_its_scaler(tmp_path, token_cache_dir,
                                                                               monkeypatch, amp_dtype):
    """auto: bf16 without a scaler where the GPU has bf16 (and grouped GEMM on Hopper), else
    fp16; fp16 always scales, and the scaler's state travels in the checkpoint."""
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cfg = quick_config(token_cache_dir, "train.device=cuda", "train.use_amp=true", f"train.amp_dtype={amp_dtype}",
                       "train.max_steps=6", "eval.eval_every=3")
    run_dir = tmp_path / amp_dtype
    stop = StopRequest()
    code, first = train_in_process(run_dir, cfg, stop=stop,
                                   listener=lambda e: e["type"] == "step" and e["step"] == 3 and stop.request())
    assert code == 0 and first[-1]["status"] == "stopped", of_type(first, "error")
    want = "fp16" if amp_dtype == "fp16" or not torch.cuda.is_bf16_supported() else "bf16"
    start = of_type(first, "start")[0]
    assert start["device"].startswith("cuda") and start["dtype"] == want
    assert torch.backends.cuda.matmul.allow_tf32
    scaler = torch.load(run_dir / CHECKPOINT_FILE, map_location="cpu", weights_only=True)["scaler"]
    assert bool(scaler) == (want == "fp16")  # a disabled GradScaler has no state

    code, second = train_in_process(run_dir, cfg, resume=True)
    assert code == 0 and second[-1]["status"] == "completed"
    losses = _losses(first) + _losses(second)
    assert len(losses) == 6 and all(math.isfinite(loss) for loss in losses)


def test_sigterm_checkpoints_ends_stopped_and_the_run_resumes_from_there(runs_dir, token_cache_dir):
    cfg = quick_config(token_cache_dir, "train.max_steps=100000", "schedule.warmup_ratio=0", "schedule.warmup_steps=1")
    run_dir = runs_dir / "sig"
    write_run(run_dir, cfg)
    proc = subprocess.Popen(engine_command(run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=engine_env(), cwd=ROOT)
    for line in proc.stdout:  # wait until it trains
        if (parse_line(line) or {}).get("type") == "step":
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = read_events(run_dir)
    end = events[-1]
    assert end["type"] == "end" and end["status"] == "stopped"
    assert of_type(events, "checkpoint")[-1]["step"] == end["step"] >= 1
    assert read_run_json(run_dir)["status"] == "stopped"

    resumed = subprocess.Popen(engine_command(run_dir, "--resume"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=engine_env(), cwd=ROOT)
    for line in resumed.stdout:
        event = parse_line(line) or {}
        if event.get("type") == "step":
            assert event["step"] == end["step"] + 1
            break
    resumed.send_signal(signal.SIGINT)
    resumed.communicate(timeout=60)
    assert resumed.returncode == 0
    assert of_type(read_events(run_dir), "start")[-1]["resumed"] is True


def test_training_goes_on_when_the_reader_of_stdout_goes_away(runs_dir, token_cache_dir):
    cfg = quick_config(token_cache_dir, "train.max_steps=30")
    run_dir = runs_dir / "pipe"
    write_run(run_dir, cfg)
    proc = subprocess.Popen(engine_command(run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=engine_env(), cwd=ROOT)
    proc.stdout.readline()
    proc.stdout.close()  # the TUI quit
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert b"BrokenPipe" not in err
    events = read_events(run_dir)
    assert events[-1]["status"] == "completed" and of_type(events, "step")[-1]["step"] == 30


def _write_raw(run_dir, table):
    """config.toml exactly as given: a hand-edited file, never validated on the way in."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(tomli_w.dumps(table))
    return run_dir / "config.toml"


@pytest.mark.parametrize("section, key, value, kind, said", [
    ("model", "n_heads", 3, "config", "model.n_heads = 3: d_model (64) must be divisible by n_heads"),
    ("moe", "top_k", 5, "config", "moe.top_k = 5: must be <= moe.num_experts (4)"),
    ("optim", "muon_lr", -1.0, "config", "optim.muon_lr = -1.0: must be >= 0"),
    ("data", "source", "/no/such/corpus.txt", "data", "/no/such/corpus.txt"),
])
def test_a_bad_setting_ends_the_run_with_an_error_event_that_names_it(tmp_path, token_cache_dir,
                                                                       section, key, value, kind, said):
    table = quick_config(token_cache_dir).to_dict()
    table[section][key] = value
    run_dir = tmp_path / "bad"
    events = []
    code = run_engine(_write_raw(run_dir, table), run_dir, sink=EventSink(run_dir / "e.jsonl", None, [events.append]))
    assert code == {"config": 2, "data": 3}[kind]
    assert [e["type"] for e in events if e["type"] != "prepare"] == ["error", "end"]
    error, end = of_type(events, "error")[0], events[-1]
    assert error["kind"] == kind and said in error["message"] and error["hint"]
    assert end["status"] == "failed"
    record = read_run_json(run_dir)
    assert record["status"] == "failed" and kind in record["exit_reason"]


def test_a_misspelt_key_fails_the_process_with_exit_2_and_the_closest_key(tmp_path, token_cache_dir):
    table = quick_config(token_cache_dir).to_dict()
    table["model"]["d_modle"] = 256
    run_dir = tmp_path / "typo"
    _write_raw(run_dir, table)
    proc = subprocess.run(engine_command(run_dir), capture_output=True, text=True, env=engine_env(), cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 2
    error = parse_line(proc.stdout.splitlines()[0])
    assert error["type"] == "error" and error["kind"] == "config"
    assert "model.d_modle" in error["message"] and "did you mean 'model.d_model'" in error["message"]
    assert "error (config)" in proc.stderr


def test_resume_without_a_checkpoint_is_a_config_error(tmp_path, token_cache_dir):
    code, events = train_in_process(tmp_path / "none", quick_config(token_cache_dir), resume=True)
    assert code == 2 and "--resume" in of_type(events, "error")[0]["message"]


def test_a_non_finite_loss_ends_the_run_diverged_without_overwriting_the_checkpoint(tmp_path, token_cache_dir):
    """Weights poisoned mid-run (as an exploding lr would leave them): the next loss is NaN."""
    cfg = quick_config(token_cache_dir, "train.max_steps=10", "train.checkpoint_every=2")
    events = []

    def poison_after_first_checkpoint(event):
        events.append(event)
        if event["type"] == "checkpoint":
            trainer.model.embed.weight.data.fill_(float("nan"))

    trainer = Trainer(cfg, tmp_path, torch.device("cpu"), EventSink(None, None, [poison_after_first_checkpoint]))
    outcome = trainer.run()
    assert outcome.status == "diverged"
    error = of_type(events, "error")[0]
    assert error["kind"] == "nan" and "step 3" in error["message"] and "lr" in error["hint"]
    assert events[-1]["type"] == "end" and events[-1]["status"] == "diverged" and events[-1]["step"] == 3
    assert [e["step"] for e in of_type(events, "checkpoint")] == [2]


def test_out_of_memory_is_told_apart_from_a_bug():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 TB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert "train.batch_size" in OOM_HINT and "gradient_accumulation_steps" in OOM_HINT


def test_running_out_of_memory_mid_training_ends_the_run_with_an_oom_error_and_the_hint(tmp_path, token_cache_dir):
    """No GPU to exhaust here, so the allocator's error is raised where a CUDA one surfaces:
    inside a training step, from everything the engine runs; the rest is the real engine."""
    def out_of_memory_at_step_2(event):
        if event["type"] == "step" and event["step"] == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    run_dir = tmp_path / "oom"
    code, events = train_in_process(run_dir, quick_config(token_cache_dir, "train.max_steps=5"),
                                    listener=out_of_memory_at_step_2)
    assert code == 4
    error = of_type(events, "error")[0]
    assert error["kind"] == "oom" and "out of memory" in error["message"] and error["hint"] == OOM_HINT
    assert events[-1]["type"] == "end" and events[-1]["status"] == "failed"
    record = read_run_json(run_dir)
    assert record["status"] == "failed" and record["exit_reason"].startswith("oom error")


def test_an_internal_error_is_reported_as_a_bug_with_the_run_marked_failed(tmp_path, token_cache_dir, capsys):
    """An exception nothing expects, raised mid-training (as a broken metric would): kind
    internal, exit 1, traceback on stderr."""
    def bug_at_step_2(event):
        if event["type"] == "step" and event["step"] == 2:
            raise KeyError("grad_norm")

    code, events = train_in_process(tmp_path / "bug", quick_config(token_cache_dir, "train.max_steps=5"),
                                    listener=bug_at_step_2)
    assert code == 1
    assert of_type(events, "error")[0]["kind"] == "internal" and events[-1]["status"] == "failed"
    assert "Traceback" in capsys.readouterr().err
