"""Data-parallel training under torchrun, on CPU with the gloo backend: two ranks train
one run, only rank 0 writes, and the two halves of a batch give the update of the whole."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine.rundir import CHECKPOINT_FILE
from engine_helpers import ROOT, engine_env, of_type, quick_config, read_events, read_run_json, write_run
from moetui.launcher import engine_command

pytestmark = pytest.mark.slow


def _torchrun(run_dir: Path, resume: bool = False) -> subprocess.Popen:
    """What the launcher starts for `--gpus 0,1`; on a CPU machine the ranks use gloo."""
    return subprocess.Popen(engine_command(run_dir, resume, ["0", "1"]), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=engine_env(), cwd=ROOT, start_new_session=True)


def _finish(process: subprocess.Popen, timeout: float = 180) -> tuple[str, str]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out, err


def _losses(run_dir: Path) -> list[float]:
    return [e["loss"] for e in of_type(read_events(run_dir), "step")]


def test_two_ranks_train_one_run_and_only_rank_0_writes(tmp_path, token_cache_dir):
    run_dir = tmp_path / "ddp"
    write_run(run_dir, quick_config(token_cache_dir, "train.max_steps=6", "eval.eval_every=3",
                                    "train.experts_every=3"))
    out, _ = _finish(_torchrun(run_dir))

    events = read_events(run_dir)
    assert len(out.splitlines()) == len(events)  # the pipe carries rank 0's lines only
    (start,) = of_type(events, "start")
    assert start["world_size"] == 2 and start["tokens_per_step"] == 2 * 4 * 32
    assert [e["step"] for e in of_type(events, "step")] == [1, 2, 3, 4, 5, 6]
    assert of_type(events, "step")[-1]["tokens"] == 6 * 2 * 4 * 32
    assert [e["step"] for e in of_type(events, "eval")] == [3, 6]
    for experts in of_type(events, "experts"):  # the load of both ranks' tokens
        assert all(abs(sum(layer) - 1) < 1e-3 for layer in experts["load"])
    (end,) = of_type(events, "end")
    assert end["status"] == "completed" and end["metrics"]["tokens"] == 6 * 2 * 4 * 32
    record = read_run_json(run_dir)
    assert record["status"] == "completed" and record["device"] == "cpu x 2"
    assert (run_dir / CHECKPOINT_FILE).is_file()


def test_two_half_batches_give_the_update_of_one_whole_batch(tmp_path, token_cache_dir):
    """Gradients are averaged over the global batch: 2 ranks x 2 sequences train exactly as
    1 device x 4 (dropout off; router noise is off in quick)."""
    settings = ["train.max_steps=4", "model.dropout=0", "train.gradient_accumulation_steps=2"]
    whole = tmp_path / "whole"
    write_run(whole, quick_config(token_cache_dir, *settings, "train.batch_size=4"))
    single = subprocess.run(engine_command(whole, False, []), capture_output=True, text=True, env=engine_env(),
                            cwd=ROOT, timeout=180)
    assert single.returncode == 0, single.stderr[-3000:]
    halves = tmp_path / "halves"
    write_run(halves, quick_config(token_cache_dir, *settings, "train.batch_size=2"))
    _finish(_torchrun(halves))
    assert _losses(halves) == pytest.approx(_losses(whole), rel=1e-4)
    assert len(_losses(whole)) == 4 and _losses(whole)[-1] < _losses(whole)[0]


def test_sigterm_stops_every_rank_after_the_same_step_and_resume_finishes(tmp_path, token_cache_dir):
    run_dir = tmp_path / "stop"
    write_run(run_dir, quick_config(token_cache_dir, "train.max_steps=400"))
    process = _torchrun(run_dir)
    deadline = time.monotonic() + 120
    while not of_type(read_events(run_dir) if (run_dir / "events.jsonl").exists() else [], "step"):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()[-3000:]
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)  # as `moetui stop` does: the whole session
    process.communicate(timeout=120)  # torchrun's own exit code says it was signalled; the run's record counts
    stopped = of_type(read_events(run_dir), "end")[-1]
    assert stopped["status"] == "stopped" and 0 < stopped["step"] < 400
    assert (run_dir / CHECKPOINT_FILE).is_file() and read_run_json(run_dir)["status"] == "stopped"

    write_run(run_dir, quick_config(token_cache_dir, "train.max_steps=" + str(stopped["step"] + 3)))
    _finish(_torchrun(run_dir, resume=True))
    events = read_events(run_dir)
    resumed = of_type(events, "start")[-1]
    assert resumed["resumed"] is True and resumed["step"] == stopped["step"]
    assert of_type(events, "end")[-1]["status"] == "completed"
    assert [e["step"] for e in of_type(events, "step")][-3:] == [stopped["step"] + i for i in (1, 2, 3)]
