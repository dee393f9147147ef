"""Data-parallel training under torchrun, on CPU with the gloo backend: two ranks train
one run, only rank 0 writes, the two halves of a batch give the update of the whole,
and `moetui run --gpus 0,1`, `stop` and `resume` drive such a run end to end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.config import Config
from engine.rundir import CHECKPOINT_FILE, CONFIG_FILE
from engine_helpers import ROOT, engine_env, of_type, quick_config, read_events, read_run_json, write_run
from moetui.history import load_history
from moetui.backends.local import engine_command
from moetui.runs import RunStore
from tests.cli_helpers import fast_sets, moetui, wait_for_step

pytestmark = pytest.mark.slow

TWO_GPUS = ["0", "1"]  # on a CPU machine only the count matters: two ranks on gloo


def _train(run_dir: Path, gpus: list[str]) -> subprocess.CompletedProcess:
    """The engine as the launcher starts it: torchrun for several GPUs. One thread per
    process, as torchrun gives each rank, so that a busy 2-core machine is not oversubscribed."""
    process = subprocess.run(engine_command(run_dir, False, len(gpus)), capture_output=True, text=True, timeout=180,
                             env={**engine_env(), "OMP_NUM_THREADS": "1"}, cwd=ROOT)
    assert process.returncode == 0, process.stderr[-3000:]
    return process


def _losses(run_dir: Path) -> list[float]:
    return [e["loss"] for e in of_type(read_events(run_dir), "step")]


def test_two_ranks_train_one_run_and_only_rank_0_writes(tmp_path, token_cache_dir):
    run_dir = tmp_path / "ddp"
    write_run(run_dir, quick_config(token_cache_dir, "train.max_steps=6", "eval.eval_every=3",
                                    "train.experts_every=3"))
    process = _train(run_dir, TWO_GPUS)

    events = read_events(run_dir)
    assert len(process.stdout.splitlines()) == len(events)  # the pipe carries rank 0's lines only
    (start,) = of_type(events, "start")
    assert start["world_size"] == 2 and start["tokens_per_step"] == 2 * 4 * 32  # 2 ranks x batch 4 x 32 tokens
    assert [e["step"] for e in of_type(events, "step")] == [1, 2, 3, 4, 5, 6]
    assert of_type(events, "step")[-1]["tokens"] == 6 * 2 * 4 * 32
    assert [e["step"] for e in of_type(events, "eval")] == [3, 6]
    for experts in of_type(events, "experts"):  # the load of both ranks' tokens
        assert all(sum(layer) == pytest.approx(1, abs=1e-3) for layer in experts["load"])
    (end,) = of_type(events, "end")
    assert end["status"] == "completed" and end["metrics"]["tokens"] == 6 * 2 * 4 * 32
    record = read_run_json(run_dir)
    assert record["status"] == "completed" and record["device"] == "cpu x 2"
    assert (run_dir / CHECKPOINT_FILE).is_file()
    assert "[rank 1] model:" in process.stderr and "[rank 0]" not in process.stderr  # one engine.log, told apart


def test_two_half_batches_give_the_update_of_one_whole_batch(tmp_path, token_cache_dir):
    """Gradients are averaged over the global batch: 2 ranks x 2 sequences train as 1 device
    x 4, to float rounding, through gradient accumulation. Dropout is off, and so is the
    load-balancing loss: each rank balances its own tokens (see engine/distributed.py)."""
    settings = ["train.max_steps=4", "model.dropout=0", "moe.load_balancing_weight=0",
                "train.gradient_accumulation_steps=2"]
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    write_run(whole, quick_config(token_cache_dir, *settings, "train.batch_size=4"))
    write_run(halves, quick_config(token_cache_dir, *settings, "train.batch_size=2"))
    _train(whole, [])
    _train(halves, TWO_GPUS)
    assert len(_losses(whole)) == 4 and _losses(whole)[-1] != _losses(whole)[0]  # it trained
    assert _losses(halves) == pytest.approx(_losses(whole), rel=1e-5)


def test_stop_reaches_every_rank_and_resume_on_two_gpus_finishes(runs_dir, token_cache_dir):
    """`moetui stop` signals torchrun, which forwards the stop to each rank; they stop after
    the same step, rank 0 checkpoints, and the resumed run continues under two ranks."""
    store = RunStore(runs_dir)
    run_id = moetui("run", "quick", "--gpus", "0,1", "--detach",  # two CPU ranks: train.device=cpu
                    *fast_sets(token_cache_dir, "train.max_steps=400", "train.device=cpu")).stdout.strip()
    wait_for_step(store, run_id, 2)
    assert "engine.torchrun" in Path(f"/proc/{store.get(run_id).pid}/cmdline").read_text()  # the agent
    stopped = moetui("stop", run_id)
    assert stopped.exit_code == 0 and "stopped with a checkpoint" in stopped.stdout, stopped.stderr
    record = store.get(run_id)
    at_stop = load_history(record.path / "events.jsonl").last_step
    assert record.device == "cpu x 2" and 2 <= at_stop < 400

    nearer_end = Config.from_toml(record.path / CONFIG_FILE).apply_overrides([f"train.max_steps={at_stop + 3}"])
    (record.path / CONFIG_FILE).write_text(nearer_end.to_toml())  # three more steps are enough to show it
    resumed = moetui("resume", run_id)  # on the GPUs it ran on
    assert resumed.exit_code == 0, resumed.stderr
    history = load_history(record.path / "events.jsonl")
    assert history.start["resumed"] and history.start["world_size"] == 2 and history.start["step"] == at_stop
    assert history.steps == list(range(1, at_stop + 4))  # one value per step across both segments
    assert store.get(run_id).status == "completed"
    log = (record.path / "engine.log").read_text()  # a stop as asked reads as one, not as torchrun's traceback
    assert "the ranks ended after signal 15" in log and "Traceback" not in log
