"""From the run store to summaries: pick the runs, digest their events (cached), summarize.

The one part of the report that touches files; everything after it is arithmetic on
`RunSummary` values. A run that cannot be trusted -- its run.json, config.toml or
events.jsonl unreadable -- becomes a summary with status `damaged`, the reason as its
problem and no metrics, so it is listed and flagged but never enters a statistic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Protocol

from engine.rundir import EVENTS_FILE
from moetui import status as statuses
from moetui.report.cache import DigestCache
from moetui.report.digest import RunDigest
from moetui.report.ranking import ReportError
from moetui.report.run_config import read_run_config
from moetui.report.summary import RunSummary, summarize


class RunLike(Protocol):
    """What the report reads of a run-store record (`moetui.runs.RunRecord`)."""

    id: str
    name: str
    study: str | None
    variant: str | None
    seed: int | None
    status: str
    exit_reason: str | None
    path: Path


def summaries(records: Iterable[RunLike], cache: DigestCache, at_step: int | None = None) -> list[RunSummary]:
    out = []
    for record in records:
        path = Path(record.path)
        identity = dict(id=record.id, name=record.name, study=record.study, variant=record.variant,
                        seed=record.seed, status=record.status, created=_created(record))
        digest, problem = _read(record, path, cache)
        if digest is None:
            out.append(RunSummary(**(identity | {"status": statuses.DAMAGED}), problem=problem))
            continue
        summary = summarize(digest, at_step=at_step, **identity)
        if summary.config is None:  # not started yet: the config it will run with
            config = read_run_config(path)[0]
            summary.config = config.to_dict() if config else None
        out.append(summary)
    return out


def _read(record: RunLike, run_dir: Path, cache: DigestCache) -> tuple[RunDigest | None, str | None]:
    """The run's digest, or None and why the run cannot be trusted."""
    if record.status == statuses.DAMAGED:
        return None, record.exit_reason or statuses.DAMAGED
    problem = cache.config_problem(run_dir)
    if problem is not None:
        return None, problem
    try:
        return cache.digest(run_dir / EVENTS_FILE), None
    except OSError as e:  # a directory, no permission
        return None, f"{EVENTS_FILE}: {e.strerror or e}"


def _created(record: Any) -> float | None:
    value = getattr(record, "created", None)
    return value if isinstance(value, (int, float)) else None


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
