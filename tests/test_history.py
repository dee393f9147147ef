"""A run's history from its events: live folding, tailing a growing file, cached loading."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

from engine.protocol import encode, make_event
from moetui.history import EventTail, RunHistory, load_history


def _line(type: str, **fields) -> str:
    return encode(make_event(type, **fields)) + "\n"


def _step(step: int, loss: float, tokens_per_step: int = 100) -> str:
    return _line("step", step=step, loss=loss, aux_loss=0.01, lr=1e-3, grad_norm=0.5, tokens_per_s=1e4,
                 tokens=step * tokens_per_step, elapsed=step * 0.1)


def _start(step: int = 0, resumed: bool = False) -> str:
    return _line("start", step=step, config={"train": {"max_steps": 4}}, params_total=1000, params_active=400,
                 device="cpu", dtype="fp32", world_size=1, tokens_per_step=100, max_steps=4, vocab_size=256,
                 resumed=resumed)


def test_a_finished_run_reads_back_every_series_and_summary_field(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(_start() + _step(1, 5.0) + _step(2, 4.0)
                    + _line("eval", step=2, val_loss=4.5, val_accuracy=0.1, val_perplexity=math.exp(4.5))
                    + _line("experts", step=2, load=[[0.5, 0.5], [0.7, 0.3]])
                    + _step(3, 3.5) + _step(4, 3.0)
                    + _line("eval", step=4, val_loss=3.2, val_accuracy=0.2, val_perplexity=math.exp(3.2))
                    + _line("end", step=4, status="completed", metrics={"val_loss": 3.2, "tokens": 400}, wall_time=0.5))
    h = load_history(path)
    assert h.steps == [1, 2, 3, 4] and h.loss == [5.0, 4.0, 3.5, 3.0]
    assert h.eval_steps == [2, 4] and h.val_loss == [4.5, 3.2] and h.val_accuracy == [0.1, 0.2]
    assert h.experts_load == [[0.5, 0.5], [0.7, 0.3]] and h.experts_step == 2
    assert (h.last_step, h.max_steps, h.tokens_seen, h.wall_time) == (4, 4, 400, 0.5)
    assert (h.params_total, h.params_active) == (1000, 400)
    assert h.config == {"train": {"max_steps": 4}} and h.final_metrics["val_loss"] == 3.2
    assert h.status_from_events == "completed"
    assert h.eval_index_at(3) == 0 and h.eval_index_at(1) is None and h.eval_index_at() == 1


def test_a_run_still_training_has_no_end_status_and_falls_back_to_the_last_step(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(_start() + _step(1, 5.0) + _step(2, 4.0))
    h = load_history(path)
    assert h.status_from_events is None and h.tokens_seen == 200 and h.wall_time == 0.2


def test_a_truncated_last_line_is_left_out_until_its_newline_arrives(tmp_path):
    path = tmp_path / "events.jsonl"
    whole = _step(2, 4.0)
    path.write_text(_start() + _step(1, 5.0) + whole[:20])
    assert load_history(path).steps == [1]
    with open(path, "a") as f:
        f.write(whole[20:])
    assert load_history(path).steps == [1, 2]


def test_load_history_follows_a_growing_file_and_returns_independent_snapshots(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(_start() + _step(1, 5.0))
    first = load_history(path)
    with open(path, "a") as f:
        f.write(_step(2, 4.0))
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1))  # coarse-mtime filesystems: force a change
    second = load_history(path)
    assert first.steps == [1] and second.steps == [1, 2]


def test_a_replaced_file_is_reparsed_from_the_start(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(_start() + _step(1, 5.0) + _step(2, 4.0) + _step(3, 3.0))
    assert load_history(path).steps == [1, 2, 3]
    replacement = tmp_path / "new.jsonl"
    replacement.write_text(_start() + _step(1, 9.0))
    replacement.replace(path)
    assert load_history(path).loss == [9.0]


def test_a_missing_file_is_an_empty_history(tmp_path):
    h = load_history(tmp_path / "nope.jsonl")
    assert h.steps == [] and h.start is None and h.last_step == 0 and h.status_from_events is None


def test_foreign_lines_and_null_metrics_do_not_break_the_history(tmp_path):
    path = tmp_path / "events.jsonl"
    nan_step = json.dumps({"v": 1, "type": "step", "t": 0, "step": 1, "loss": None, "tokens": 100})
    path.write_text("warning: not json\n" + _start() + nan_step + "\n" + '{"type": "mystery"}\n')
    h = load_history(path)
    assert h.steps == [1] and math.isnan(h.loss[0]) and h.start is not None


def test_fields_of_the_wrong_type_read_as_missing_and_every_property_stays_formattable(tmp_path):
    """A hand-edited or corrupted events file: each bad value is as if the engine had left
    the field out, so whatever formats a property (a count with `,`, a clock) still can."""
    wrong = [
        {"type": "start", "step": "0", "config": [], "params_total": "x", "params_active": 1.5, "max_steps": "10",
         "device": 5, "resumed": "yes"},
        {"type": "step", "step": "abc", "loss": 1.0},
        {"type": "step", "step": 1, "loss": "x", "tokens": 1.5, "elapsed": float("inf")},
        {"type": "step", "step": True, "loss": 1.0},
        {"type": "eval", "step": 1, "val_loss": "x", "val_accuracy": [], "val_perplexity": {}},
        {"type": "experts", "step": 1, "load": [[1, "a"]]},
        {"type": "experts", "step": 1, "load": [[]]},
        {"type": "experts", "step": 1, "load": 5},
        {"type": "error", "t": "late", "kind": 5, "message": 5, "hint": []},
        {"type": "end", "step": "3", "status": 5, "metrics": [], "wall_time": "x"},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in wrong))
    error = EventTail(path).read_new()[-2]
    assert error == {"type": "error"}  # what a live view is handed: nothing it could trip on
    h = load_history(path)
    assert h.steps == [1] and math.isnan(h.loss[0]) and h.tokens == [0]
    assert h.eval_steps == [1] and all(math.isnan(v) for v in (h.val_loss[0], h.val_accuracy[0]))
    assert (h.max_steps, h.params_total, h.params_active, h.config, h.wall_time) == (None,) * 5
    assert (h.final_metrics, h.tokens_seen, h.status_from_events, h.last_step) == ({}, 0, None, 1)
    assert h.experts_load is None and h.start == {"type": "start"} and h.last_error == {"type": "error"}


def test_a_resumed_run_drops_the_steps_redone_after_its_checkpoint():
    h = RunHistory()
    for line in (_start(), _step(1, 5.0), _step(2, 4.0),
                 _line("eval", step=2, val_loss=4.4, val_accuracy=0.1, val_perplexity=81.0),
                 _step(3, 3.9), _line("eval", step=3, val_loss=4.3, val_accuracy=0.1, val_perplexity=74.0),
                 _start(step=2, resumed=True), _step(3, 3.8)):
        h.add(json.loads(line))
    assert h.steps == [1, 2, 3] and h.loss == [5.0, 4.0, 3.8]
    assert h.eval_steps == [2] and h.start["resumed"] is True


def test_an_events_path_that_cannot_be_read_is_no_events_not_a_crash(tmp_path):
    """One odd run directory (here its events.jsonl is a directory) must not take a live view down."""
    (tmp_path / "events.jsonl").mkdir()
    assert EventTail(tmp_path / "events.jsonl").read_new() == []


def test_event_tail_waits_for_the_file_and_for_complete_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.read_new() == []
    line = _step(1, 5.0)
    path.write_text(line[:10])
    assert tail.read_new() == []
    with open(path, "a") as f:
        f.write(line[10:] + _step(2, 4.0))
    assert [e["step"] for e in tail.read_new()] == [1, 2]
    assert tail.read_new() == [] and tail.reset is False
    path.write_text(_step(7, 1.0))  # truncated and rewritten: start over and say so
    assert [e["step"] for e in tail.read_new()] == [7] and tail.reset is True


def test_history_and_the_report_never_load_torch_or_textual():
    code = ("import sys, moetui.history, moetui.report.formats, moetui.report.terminal, moetui.report.collect; "
            "print(sorted(m for m in ('torch', 'textual') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
