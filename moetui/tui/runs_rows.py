"""The runs table's rows as plain data: cells, sort keys, filtering. No widgets here, so
the arithmetic of a row (ETA, elapsed, the latest metrics) is tested on its own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from moetui import notes
from moetui.history import RunHistory
from moetui.report.cells import count
from moetui.status import RUNNING
from moetui.tui.progress import clock, eta_seconds, number

# (key, header) in display order
# (ETA sits next to step, so progress is on show at 80 columns, where the metrics scroll off;
# the person's tags and note come last, the first to go off the edge on a narrow terminal)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", " "), ("name", "name"), ("group", "study/variant"), ("status", "status"), ("step", "step"),
    ("eta", "ETA"), ("loss", "loss"), ("val_loss", "val loss"), ("ppl", "ppl"), ("tps", "tok/s"),
    ("elapsed", "elapsed"), ("notes", "tags / notes"),
)
HEADERS = dict(COLUMNS)
COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
MARK = "●"


@dataclass(frozen=True)
class RunRow:
    id: str
    cells: tuple[str, ...]
    sort_keys: tuple[Any, ...]  # per column, comparable within a column (None sorts last)
    search: str  # lower-cased text the filter matches against


def _last(values: list[float]) -> float | None:
    return values[-1] if values else None


def _rate(tokens_per_s: float | None) -> str:
    if tokens_per_s is None or not math.isfinite(tokens_per_s):
        return "–"
    return count(round(tokens_per_s))


def run_row(record: Any, history: RunHistory, marked: bool) -> RunRow:
    group = "/".join(part for part in (record.study, record.variant) if part) or "–"
    step, max_steps = history.last_step, history.max_steps
    elapsed = history.wall_time
    first = (history.start or {}).get("step") or 0
    eta = eta_seconds(step, max_steps, elapsed, first) if record.status == RUNNING else None
    loss, val_loss = _last(history.loss), _last(history.val_loss)
    ppl, tps = _last(history.val_perplexity), _last(history.tokens_per_s)
    label = notes.label(record.notes, record.tags)
    cells = (
        MARK if marked else "", record.name, group, record.status,
        f"{step}/{max_steps}" if max_steps else (str(step) if step else "–"), clock(eta),
        number(loss), number(val_loss), number(ppl, 1), _rate(tps), clock(elapsed), label,
    )
    keys = (not marked, record.name, group, record.status, step, eta, loss, val_loss, ppl, tps, elapsed,
            label.lower() or None)
    # The whole note, and the tags as `#tag` too: `/#fig2` finds the tag, not every note saying fig2.
    search = " ".join((record.id, record.name, group, record.status, record.preset or "", record.notes or "",
                       *record.tags, notes.hashtags(record.tags))).lower()
    return RunRow(record.id, cells, keys, search)


def shorten(text: str, width: int) -> str:
    """`lr-schedule-cos…up_05-s42`: at most `width` characters, cut in the middle, where a
    study run's name repeats its study and variant, so both ends stay readable."""
    if len(text) <= width:
        return text
    keep = width - 1
    head = (keep + 1) // 2
    return text[:head] + "…" + text[len(text) - (keep - head):]


def clip(text: str, width: int) -> str:
    """At most `width` characters, cut at the end (a note reads from its start)."""
    return text if len(text) <= width else text[:width - 1] + "…"


def visible_rows(rows: list[RunRow], query: str = "", sort: str | None = None, reverse: bool = False) -> list[RunRow]:
    """Rows whose text holds every word of `query`, ordered by column `sort` (missing values last)."""
    words = query.lower().split()
    shown = [row for row in rows if all(word in row.search for word in words)]
    if sort is None:
        return shown
    i = COLUMN_KEYS.index(sort)
    present, missing = [], []
    for row in shown:
        key = row.sort_keys[i]
        (missing if key is None or key != key else present).append(row)  # key != key: NaN
    return sorted(present, key=lambda row: row.sort_keys[i], reverse=reverse) + missing
