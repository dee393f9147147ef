"""The foreground `moetui run` view: a Rich live panel fed by the engine's stdout pipe.

`render` is a pure function of the run's history (tested by rendering into a string);
`follow` only moves lines from the pipe into the history and redraws. When the pipe is
not a terminal (CI logs, tests) Rich prints the final panel once instead of redrawing.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from engine.protocol import parse_line
from moetui.history import RunHistory
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


def follow(pipe: IO[bytes], history: RunHistory, name: str, console: Console) -> RunHistory:
    """Fold the pipe's events into `history` and redraw until the engine closes its stdout.
    A KeyboardInterrupt propagates to the caller (which asks: stop or detach)."""
    with Live(render(history, name), console=console, refresh_per_second=4, transient=False) as live:
        for line in pipe:
            event = parse_line(line)
            if event is not None:
                history.add(event)
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
