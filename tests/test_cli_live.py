"""The foreground run view, rendered into a string: what a person sees part-way and at the end."""

from __future__ import annotations

import io

from rich.console import Console

from engine.protocol import make_event
from moetui.history import RunHistory
from moetui.live import render, summary


def _history(steps: int, max_steps: int, end: bool = False) -> RunHistory:
    history = RunHistory()
    history.add(make_event("prepare", stage="tokenize", done=3, total=10))
    history.add(make_event("start", step=0, config={}, params_total=1_180_000, params_active=790_000, device="cpu",
                           dtype="float32", world_size=1, tokens_per_step=2048, max_steps=max_steps, vocab_size=2048,
                           resumed=False))
    for step in range(1, steps + 1):
        history.add(make_event("step", step=step, loss=8.0 - step * 0.1, aux_loss=0.01, lr=0.05, grad_norm=1.0,
                               tokens_per_s=12_345.0, tokens=2048 * step, elapsed=float(step)))
    history.add(make_event("eval", step=steps, val_loss=7.25, val_accuracy=0.125, val_perplexity=1408.1))
    if end:
        history.add(make_event("end", step=steps, status="completed", metrics={}, wall_time=float(steps)))
    return history


def _text(renderable) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_part_way_the_view_shows_progress_metrics_and_eta():
    text = _text(render(_history(10, 40), "demo"))
    assert "demo  running  cpu float32  1.18M params, 0.79M active" in text
    assert "10/40 steps" in text and "elapsed 10s" in text and "ETA 30s" in text
    assert "loss 7" in text and "val loss 7.25" in text and "ppl 1408.1" in text and "acc 0.125" in text
    assert "tok/s 12,345" in text


def test_before_training_the_view_shows_data_preparation():
    history = RunHistory()
    history.add(make_event("prepare", stage="tokenize", done=3, total=10, message="embedded corpus"))
    assert "preparing data: tokenize 3/10  embedded corpus" in _text(render(history, "demo"))


def test_an_engine_error_is_shown_with_its_hint():
    history = _history(2, 40)
    history.add(make_event("error", kind="oom", message="out of memory", hint="lower train.batch_size"))
    assert "error (oom): out of memory; lower train.batch_size" in _text(render(history, "demo"))


def test_the_closing_line_sums_the_run_up():
    assert summary(_history(40, 40, end=True), "demo") == "demo completed: 40 steps, val loss 7.25, ppl 1408.1, in 40s"
    assert summary(RunHistory(), "demo") == "demo ended without an end event: 0 steps"
