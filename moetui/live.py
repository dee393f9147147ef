"""The foreground `moetui run` view: a Rich live panel of the run's events file, redrawn
whenever the engine's stdout pipe says it wrote.

`render` is a pure function of the run's history (tested by rendering into a string);
`follow` only moves events from the file into the history and redraws. When the output
is not a terminal (CI logs, tests) Rich prints the final panel once instead of redrawing.

`woken_events` is how every view of a run it launched (this one, the TUI's pipe feed)
reads: the engine drops lines for a pipe that is not read fast enough (engine/events.py)
but never for events.jsonl, so the pipe only says "look now" and "I exited". A run
started elsewhere (`moetui attach`) has no pipe: `polled_events` reads its file on a timer.
"""

from __future__ import annotations

import os
import select
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from moetui.history import EventTail, RunHistory
from moetui.tui.progress import clock, eta_seconds, number

_STATUS_STYLE = {"completed": "green", "stopped": "yellow", "failed": "red", "diverged": "red"}


def _last(values: list[float]) -> float | None:
    return values[-1] if values else None


def _header(history: RunHistory, name: str) -> Text:
    status = history.status_from_events or ("running" if history.start else "starting")
    text = Text.assemble((name, "bold"), "  ", (status, _STATUS_STYLE.get(status, "cyan")))
    start = history.start or {}
    if start:
        params = f"{start.get('params_total', 0) / 1e6:.2f}M params, {start.get('params_active', 0) / 1e6:.2f}M active"
        text.append(f"  {start.get('device', '?')} {start.get('dtype', '')}  {params}", "dim")
    return text


def _preparing(history: RunHistory) -> Text:
    prepare = history.prepare or {}
    done, total = prepare.get("done"), prepare.get("total")
    count = f" {done}/{total}" if total else ""
    return Text(f"preparing data: {prepare.get('stage', '...')}{count}  {prepare.get('message', '')}".rstrip(), "dim")


def render(history: RunHistory, name: str) -> RenderableType:
    """The panel for one moment of a run."""
    parts: list[RenderableType] = [_header(history, name)]
    if history.start is None:
        if history.end is None:
            parts.append(_preparing(history))
    else:
        step, max_steps = history.last_step, history.max_steps or 0
        first = history.start.get("step") or 0
        eta = None if history.end else eta_seconds(step, max_steps, history.wall_time, first)
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=max_steps or 1, completed=step, width=40),
                    f"{step}/{max_steps} steps", f"elapsed {clock(history.wall_time)}", f"ETA {clock(eta)}")
        parts.append(bar)
        metrics = Table.grid(padding=(0, 2))
        tokens_per_s = _last(history.tokens_per_s)
        metrics.add_row(f"loss {number(_last(history.loss))}", f"val loss {number(_last(history.val_loss))}",
                        f"ppl {number(_last(history.val_perplexity), 1)}",
                        f"acc {number(_last(history.val_accuracy), 3)}",
                        f"tok/s {tokens_per_s:,.0f}" if tokens_per_s else "tok/s –",
                        f"lr {_last(history.lr) or 0:.3g}")
        parts.append(metrics)
    error = history.last_error
    if error:
        parts.append(Text(f"error ({error.get('kind')}): {error.get('message')}; {error.get('hint')}", "red"))
    return Group(*parts)


def tail_from_now(events_path: Path) -> EventTail:
    """A tail of a run's events file that skips what the file holds now: earlier segments
    of a resumed run. Made right after the launch, before the engine (still loading torch)
    has written anything of its own."""
    tail = EventTail(events_path)
    tail.read_new()
    return tail


def woken_events(pipe: IO[bytes], tail: EventTail, poll: float | None = None) -> Iterator[list[dict[str, Any]]]:
    """The events `tail` finds each time the engine writes to `pipe` (what it wrote is
    discarded), and every `poll` seconds of silence if given ([] when none, so the caller
    can look at its own flags). Ends when the pipe closes -- the engine exited -- after a
    last read. No event is missed: the engine drops a pipe line only while the pipe is
    full, and a full pipe wakes this reader, which then reads the file past that line."""
    fd = pipe.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], poll)
        if ready and not os.read(fd, 1 << 16):
            yield tail.read_new()
            return
        yield tail.read_new()


def polled_events(tail: EventTail, active: Callable[[], bool], poll: float = 0.5) -> Iterator[list[dict[str, Any]]]:
    """The events `tail` finds every `poll` seconds while `active()` holds, then a last read:
    how a view follows a run it did not start (`moetui attach`), which has no pipe to wake it."""
    while active():
        yield tail.read_new()
        time.sleep(poll)
    yield tail.read_new()


def follow(pipe: IO[bytes] | None, tail: EventTail, history: RunHistory, name: str, console: Console,
           active: Callable[[], bool] | None = None) -> RunHistory:
    """Fold the run's new events into `history` and redraw until the engine closes its stdout
    (or, with no pipe, until `active()` turns false: `polled_events`). A KeyboardInterrupt
    propagates to the caller (which asks: stop or detach, then follows the same `tail` on)."""
    events_source = woken_events(pipe, tail) if pipe is not None else polled_events(tail, active or (lambda: False))
    with Live(render(history, name), console=console, refresh_per_second=4, transient=False) as live:
        for events in events_source:
            for event in events:
                history.add(event)
            if events:
                live.update(render(history, name))
    if not console.is_terminal:  # Rich leaves the last line of a non-terminal render open
        console.line()
    return history


def summary(history: RunHistory, name: str) -> str:
    """One closing line: how the run ended and its last numbers."""
    status = history.status_from_events or "ended without an end event"
    numbers = [f"{history.last_step} steps"]
    if history.val_loss:
        numbers.append(f"val loss {number(history.val_loss[-1])}, ppl {number(history.val_perplexity[-1], 1)}")
    if history.wall_time is not None:
        numbers.append(f"in {clock(history.wall_time)}")
    return f"{name} {status}: {', '.join(numbers)}"
