"""From the run store to summaries: pick the runs, digest their events (cached), summarize.

The one part of the report that touches files; everything after it is arithmetic on
`RunSummary` values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Protocol

from engine.config import Config, ConfigError
from engine.rundir import CONFIG_FILE, EVENTS_FILE
from moetui.report.cache import DigestCache
from moetui.report.ranking import ReportError
from moetui.report.summary import RunSummary, summarize


class RunLike(Protocol):
    """What the report reads of a run-store record (`moetui.runs.RunRecord`)."""

    id: str
    name: str
    study: str | None
    variant: str | None
    seed: int | None
    status: str
    path: Path


def summaries(records: Iterable[RunLike], cache: DigestCache, at_step: int | None = None) -> list[RunSummary]:
    out = []
    for record in records:
        path = Path(record.path)
        summary = summarize(cache.digest(path / EVENTS_FILE), at_step=at_step, id=record.id, name=record.name,
                            study=record.study, variant=record.variant, seed=record.seed,
                            status=record.status, created=_created(record))
        if summary.config is None:  # not started yet: the config it will run with
            summary.config = _config_file(path)
        out.append(summary)
    return out


def _created(record: Any) -> float | None:
    value = getattr(record, "created", None)
    return value if isinstance(value, (int, float)) else None


def _config_file(run_dir: Path) -> dict[str, Any] | None:
    try:
        return Config.from_toml(run_dir / CONFIG_FILE).to_dict()
    except (OSError, ConfigError):
        return None


def select(records: list[RunLike], wanted: list[str], studies: list[str], get: Any) -> list[RunLike]:
    """Runs named in `wanted` (via the store's `get`, which raises for unknown names) plus
    every run of `studies`; everything when neither is given. Order kept, no duplicates."""
    if not wanted and not studies:
        return list(records)
    chosen: dict[str, RunLike] = {}
    for name in wanted:
        record = get(name)
        chosen.setdefault(record.id, record)
    for study in studies:
        members = [r for r in records if r.study == study]
        if not members:
            known = sorted({r.study for r in records if r.study})
            raise ReportError(f"study {study!r} has no runs in this store"
                              + (f" (studies: {', '.join(known)})" if known else " (it holds no studies)"))
        for record in members:
            chosen.setdefault(record.id, record)
    return list(chosen.values())
