"""Stories with the real engine on a shrunk `quick`: run in the foreground, in the
background, stop and resume, and a whole study through the queue."""

from __future__ import annotations

import json
import re
import time

import pytest

from engine.protocol import parse_lines
from moetui.history import load_history
from moetui.runs import RunStore
from tests.cli_helpers import fast_sets, moetui, wait_for, wait_for_step

pytestmark = pytest.mark.slow


def _events(run_dir):
    return list(parse_lines((run_dir / "events.jsonl").read_text().splitlines()))


def test_run_trains_in_the_foreground_and_leaves_a_complete_run_dir(runs_dir, token_cache_dir):
    result = moetui("run", "quick", "--name", "first", *fast_sets(token_cache_dir, "train.max_steps=6"))
    assert result.exit_code == 0, result.stderr
    assert "first completed: 6 steps, val loss" in result.stdout
    assert "6/6 steps" in result.stdout  # the live view's last frame
    (record,) = RunStore(runs_dir).list()
    assert record.status == "completed" and record.exit_code == 0 and record.device == "cpu"
    assert {p.name for p in record.path.iterdir()} >= {"config.toml", "run.json", "events.jsonl", "engine.log",
                                                        "checkpoint.pt"}
    kinds = [e["type"] for e in _events(record.path)]
    assert kinds[0] == "prepare" and "start" in kinds and kinds[-1] == "end"
    assert json.loads((record.path / "run.json").read_text())["git_commit"] == record.git_commit
    shown = moetui("show", "first").stdout
    assert "completed" in shown and "val loss / acc / ppl" in shown and "train.max_steps 200 → 6" in shown


def test_detach_returns_at_once_and_the_run_completes(runs_dir, token_cache_dir):
    result = moetui("run", "quick", "--detach", *fast_sets(token_cache_dir, "train.max_steps=5"))
    assert result.exit_code == 0, result.stderr
    run_id = result.stdout.strip()
    store = RunStore(runs_dir)
    assert store.get(run_id).status == "running"  # claimed before the command returned
    assert wait_for(store, run_id, ("completed",)).exit_reason == "finished 5 steps"
    assert "step 5" in moetui("logs", run_id).stdout


def test_stop_checkpoints_and_resume_continues_to_max_steps(runs_dir, token_cache_dir):
    store = RunStore(runs_dir)
    run_id = moetui("run", "quick", "--detach", *fast_sets(token_cache_dir, "train.max_steps=80")).stdout.strip()
    wait_for_step(store, run_id, 2)
    stopped = moetui("stop", run_id)
    assert stopped.exit_code == 0, stopped.stderr
    assert "stopped with a checkpoint" in stopped.stdout
    record = store.get(run_id)
    assert record.status == "stopped" and (record.path / "checkpoint.pt").is_file()
    at_stop = load_history(record.path / "events.jsonl").last_step
    assert 2 <= at_stop < 80

    resumed = moetui("resume", run_id)
    assert resumed.exit_code == 0, resumed.stderr
    assert "completed: 80 steps" in resumed.stdout
    history = load_history(record.path / "events.jsonl")
    assert history.start["resumed"] and history.start["step"] == at_stop
    assert history.steps == list(range(1, 81))  # one value per step across both segments
    done = store.get(run_id)
    assert done.status == "completed"
    assert done.started == record.started and done.resumed > done.started  # the first start, and the resume
    shown = moetui("show", run_id).stdout
    assert _row(shown, "started") == _clock(record.started) and _row(shown, "last resumed") == _clock(done.resumed)

    log = moetui("logs", run_id).stdout  # the story: progress, the stop, the resume, the end
    assert f"stopped at step {at_stop} (a stop was requested); resume with: moetui resume {run_id}" in log
    assert log.rstrip().endswith("completed: finished 80 steps")
    step_lines = re.findall(r"^step (\d+)/80: loss [\d.]+, lr ", log, re.MULTILINE)
    assert "80" in step_lines and len(step_lines) <= 2 + 2 * 10  # a segment's first, ~every 10%, the last


def test_a_run_that_diverges_says_where_and_why_in_its_log(runs_dir, token_cache_dir):
    """AdamW at lr 1 with weight decay 10 blows up within a few steps (see test_engine_guards)."""
    result = moetui("run", "quick", "--name", "boom", *fast_sets(
        token_cache_dir, "optim.optimizer=adamw", "optim.adamw_lr=1", "optim.weight_decay=10", "train.max_steps=60"))
    assert result.exit_code == 1
    log = moetui("logs", "boom").stdout
    found = re.search(r"^diverged at step (\d+) because the (training loss|weights) became", log, re.MULTILINE)
    assert found, log
    assert int(found[1]) == load_history(RunStore(runs_dir).get("boom").path / "events.jsonl").last_step


def _row(shown: str, key: str) -> str:
    """A value of `moetui show`'s table, by its key."""
    return next(line.strip()[len(key):].strip() for line in shown.splitlines() if line.strip().startswith(key + " "))


def _clock(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def test_a_study_on_another_base_runs_every_variant_through_the_queue(runs_dir, token_cache_dir):
    result = moetui("study", "lr-schedule", "--base", "quick", *fast_sets(token_cache_dir, "train.max_steps=4"))
    assert result.exit_code == 0, result.stderr
    store = RunStore(runs_dir)
    runs = [r for r in store.list() if r.study == "lr-schedule"]
    assert [r.variant for r in runs] == ["baseline", "cosine_warmup_05", "cosine_no_warmup"]
    assert all(r.preset == "quick" for r in runs)
    done = [wait_for(store, r.id, ("completed", "failed", "crashed"), timeout=150) for r in runs]
    assert [r.status for r in done] == ["completed"] * 3, [r.exit_reason for r in done]
    spans = sorted((r.started, r.ended) for r in done)  # CPU: one at a time, in queue order
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:]))
    assert [r.id for r in sorted(done, key=lambda r: r.started)] == [r.id for r in runs]
    listed = moetui("ls", "--study", "lr-schedule").stdout
    assert listed.count("completed") == 3


def test_a_run_the_engine_refuses_ends_with_its_reason_in_one_line(runs_dir, token_cache_dir, tmp_path):
    one_line = tmp_path / "one-document.txt"  # readable text (the pre-flight passes it), too little to split
    one_line.write_text("just a few words of text here.\n")
    result = moetui("run", "quick", *fast_sets(token_cache_dir, f"data.source={one_line}"))
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"moetui: run quick failed: data error: data file '{one_line}' has 1 "
                                     "document(s); a train/validation split needs at least 2")
    assert "error (data)" in result.stdout  # the live view shows the engine's error event and hint
    assert RunStore(runs_dir).get("quick").exit_code == 3
