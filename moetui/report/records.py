"""The ranking and the journey as plain records of raw numbers, for CSV and JSON.

Unformatted on purpose (fractions, seconds, exact token counts) so that whatever reads
them can redo the arithmetic; the people-facing formatting lives in `cells`. Besides one
record per variant there is one per run -- seed, status, whether it was counted and why
not, its metrics at the compared eval -- so the statistics can be redone elsewhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from moetui.report.journey import Journey
from moetui.report.ranking import METRICS, TEST, Ranking, Row
from moetui.report.summary import RunSummary

SCHEMA_VERSION = 2
_VALUES = [*METRICS, "wall_time"]


def row_record(row: Row, metric: str) -> dict[str, Any]:
    first = row.first
    record: dict[str, Any] = {"rank": row.rank, "label": row.label, "study": row.study or None,
                              "variant": row.variant or None, "n": row.n, "n_runs": len(row.runs),
                              "verdict": row.verdict, "p_value": row.p_value}
    for name in _VALUES:
        stat = row.stats[name]
        record[name] = stat.mean if stat else None
        record[f"{name}_std"] = stat.std if stat else None
    delta = row.deltas.get(metric)
    record["delta_pct"] = delta.relative if delta else None
    record["delta_abs"] = delta.absolute if delta else None
    record.update(step=first.step, tokens=first.tokens, flops=first.flops, params_total=first.params_total,
                  params_active=first.params_active, status=row.status, flags=list(row.flags),
                  key_changes=[{"key": k, "old": a, "new": b} for k, a, b in row.key_changes],
                  runs=[run.id for run in row.runs], seeds=[run.seed for run in row.runs])
    return record


def run_record(row: Row, run: RunSummary, label: str) -> dict[str, Any]:
    record: dict[str, Any] = {"label": row.label, "run": label, "id": run.id, "name": run.name,
                              "study": run.study, "variant": run.variant, "seed": run.seed, "status": run.status,
                              "counted": run.id not in row.left_out, "left_out": row.left_out.get(run.id)}
    record.update({name: run.metric(name) for name in METRICS})
    record.update(wall_time=run.wall_time, step=run.step, tokens=run.tokens, flops=run.flops)
    return record


def run_records(ranking: Ranking) -> list[dict[str, Any]]:
    labels = ranking.run_labels()
    return [run_record(row, run, labels[run.id]) for row in ranking.rows for run in row.runs]


def csv_records(ranking: Ranking) -> list[dict[str, Any]]:
    """One table: a `level` column tells the variant rows from the run rows below them."""
    return ([{"level": "variant", **row_record(row, ranking.metric.name)} for row in ranking.rows]
            + [{"level": "run", **record} for record in run_records(ranking)])


def ranking_record(ranking: Ranking) -> dict[str, Any]:
    m = ranking.metric
    best = ranking.best
    return {
        "schema": SCHEMA_VERSION,
        "metric": m.name,
        "lower_is_better": m.lower_is_better,
        "sign_convention": "delta > 0 means better than the baseline; delta_pct in % of the baseline value, "
                           "delta_abs in the metric's units",
        "test": TEST,
        "alpha": ranking.alpha,
        "at_step": ranking.at_step,
        "baseline": ranking.baseline.label,
        "baseline_choice": ranking.baseline_choice,
        "notes": list(ranking.notes),
        "rows": [row_record(row, m.name) for row in ranking.rows],
        "runs": run_records(ranking),
        "best": None if best is None else {"label": best.label, "verdict": best.verdict,
                                           "config": best.config.to_dict()},
    }


def journey_record(journey: Journey) -> dict[str, Any]:
    def deltas(found: dict) -> dict[str, Any]:
        return {k: dataclasses.asdict(d) if d else None for k, d in found.items()}

    return {
        "schema": SCHEMA_VERSION,
        "metric": journey.metric.name,
        "stages": [{
            "study": stage.study or None,
            "variant": stage.row.label,
            "values": {name: (s.mean if s else None) for name, s in stage.row.stats.items()},
            "vs_previous": deltas(stage.vs_previous),
            "vs_first": deltas(stage.vs_first),
            "in_study": deltas(stage.in_study),
            "changes": [{"key": k, "old": a, "new": b} for k, a, b in stage.changes],
            "caveat": stage.caveat,
            "note": stage.note,
        } for stage in journey.stages],
    }
