"""The ranking and the journey as plain records of raw numbers, for CSV and JSON.

Unformatted on purpose (fractions, seconds, exact token counts) so that whatever reads
them can redo the arithmetic; the people-facing formatting lives in `cells`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from moetui.report.journey import Journey
from moetui.report.ranking import METRICS, Ranking, Row

SCHEMA_VERSION = 1


def row_record(row: Row, metric: str) -> dict[str, Any]:
    first = row.first
    record: dict[str, Any] = {"rank": row.rank, "label": row.label, "study": first.study,
                              "variant": first.variant, "n": row.n, "verdict": row.verdict}
    for name in [*METRICS, "wall_time"]:
        stat = row.stats[name]
        record[name] = stat.mean if stat else None
        record[f"{name}_std"] = stat.std if stat else None
    delta = row.deltas.get(metric)
    record["delta_pct"] = delta.relative if delta else None
    record["delta_abs"] = delta.absolute if delta else None
    record.update(tokens=first.tokens, steps=first.steps, params_total=first.params_total,
                  params_active=first.params_active, status=row.status, flags=list(row.flags),
                  key_changes=[{"key": k, "old": a, "new": b} for k, a, b in row.key_changes],
                  runs=[run.id for run in row.runs], seeds=[run.seed for run in row.runs])
    return record


def ranking_record(ranking: Ranking) -> dict[str, Any]:
    m = ranking.metric
    best = ranking.best
    return {
        "schema": SCHEMA_VERSION,
        "metric": m.name,
        "lower_is_better": m.lower_is_better,
        "sign_convention": "delta > 0 means better than the baseline; delta_pct in % of the baseline value, "
                           "delta_abs in the metric's units",
        "at_step": ranking.at_step,
        "baseline": ranking.baseline.label,
        "notes": list(ranking.notes),
        "rows": [row_record(row, m.name) for row in ranking.rows],
        "best": None if best is None else {"label": best.label, "config": best.config.to_dict()},
    }


def journey_record(journey: Journey) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "metric": journey.metric.name,
        "stages": [{
            "study": stage.study,
            "variant": stage.row.label,
            "values": {name: (s.mean if s else None) for name, s in stage.row.stats.items()},
            "in_study": {k: dataclasses.asdict(d) if d else None for k, d in stage.in_study.items()},
            "cumulative": {k: dataclasses.asdict(d) if d else None for k, d in stage.cumulative.items()},
            "note": stage.note,
        } for stage in journey.stages],
    }
