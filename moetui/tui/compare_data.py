"""The compare view's tables as plain data: the config keys that differ among the marked
runs, and the report's ranking of them (the same `rank_runs` that `moetui report` uses, so
the view's verdicts are the report's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import Config, config_diff, iter_fields
from engine.rundir import atomic_write_text
from moetui.report.formats import FORMATS, render_ranking
from moetui.report.cache import DigestCache
from moetui.report.collect import summaries
from moetui.report.ranking import Ranking, rank_runs
from moetui.report.summary import RunSummary
from moetui.status import LIVE

TITLE = "Run comparison"


def differing_keys(configs: list[Config | None]) -> list[tuple[str, list[Any]]]:
    """(key, value per run) for every key on which the runs do not all agree, in schema order."""
    known = [c for c in configs if c is not None]
    if len(known) < 2:
        return []
    keys = {key for other in known[1:] for key, _, _ in config_diff(known[0], other)}
    ordered = [spec.key for spec in iter_fields() if spec.key in keys]
    return [(key, [c.get(key) if c is not None else None for c in configs]) for key in ordered]


def ranking_of(store: Any, run_ids: list[str], baseline: str, choice: str) -> Ranking:
    """Rank the runs against `baseline` (a run id), chosen as `choice` says. While some of
    them still train, every run is compared at the last eval all of those reached (as
    `moetui report --at-step` would), so that the live runs count and all are compared at
    the same point of training."""
    chosen = [store.get(run_id) for run_id in run_ids]
    cache = DigestCache.for_store(store.root)
    found = summaries(chosen, cache)
    at_step = live_step(found)
    if at_step is not None:
        found = summaries(chosen, cache, at_step)
    return rank_runs(found, baseline, at_step=at_step, baseline_choice=choice)


def live_step(found: list[RunSummary]) -> int | None:
    """The last eval step every live run with an eval has reached; None when none is live."""
    steps = [run.step for run in found if run.status in LIVE and run.step is not None]
    return min(steps) if steps else None


def export(ranking: Ranking, path: Path) -> None:
    """Write the ranking as the report writes it; the format follows the file's suffix."""
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path.name}: name a file ending in one of .{', .'.join(FORMATS)}")
    atomic_write_text(path, render_ranking(ranking, fmt, TITLE))
