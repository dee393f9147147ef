"""The cumulative table across studies: original baseline -> winner of each study, in order.

Like the seed project's cumulative summary, with what it glossed over made visible: a
study whose baseline is not the previous study's winner starts from somewhere else, so
its in-study gain does not add to the previous ones; the journey says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from moetui.report.ranking import METRICS, Metric, Ranking, Row, key_changes
from moetui.report.stats import Delta, improvement

# What the journey tracks per stage: the report metrics plus training time.
TRACKED = {**{name: m.lower_is_better for name, m in METRICS.items()}, "wall_time": True}


@dataclass
class Stage:
    study: str
    row: Row  # the variant standing after this stage (the first stage: the original baseline)
    ranking: Ranking
    in_study: dict[str, Delta | None] = field(default_factory=dict)  # vs this study's baseline
    cumulative: dict[str, Delta | None] = field(default_factory=dict)  # vs the original baseline
    note: str | None = None

    @property
    def is_origin(self) -> bool:
        return not self.in_study


@dataclass
class Journey:
    metric: Metric
    stages: list[Stage]

    @property
    def total(self) -> dict[str, Delta | None]:
        return self.stages[-1].cumulative


def build_journey(studies: list[tuple[str, Ranking]]) -> Journey:
    """Stages in the given order: the first study's baseline, then each study's winner (its
    baseline when nothing won cleanly)."""
    first_study, first = studies[0]
    origin = Stage(first_study, first.baseline, first)
    origin.cumulative = _deltas(origin.row, origin.row)
    stages = [origin]
    for study, ranking in studies:
        previous = stages[-1].row
        winner = ranking.best or ranking.baseline
        stage = Stage(study, winner, ranking, _deltas(ranking.baseline, winner), _deltas(origin.row, winner))
        notes = [] if ranking.best else [f"no clean win in {study}: its baseline is kept"]
        moved = key_changes(previous, ranking.baseline) if previous is not ranking.baseline else []
        if moved:
            shown = ", ".join(f"{k}: {a} → {b}" for k, a, b in moved)
            notes.append(f"{study}'s baseline is not the previous winner ({shown}); its in-study gain "
                         "does not add to the earlier ones")
        stage.note = "; ".join(notes) or None
        stages.append(stage)
    return Journey(first.metric, stages)


def _deltas(base: Row, row: Row) -> dict[str, Delta | None]:
    deltas = {}
    for name, lower in TRACKED.items():
        a, b = base.stats[name], row.stats[name]
        deltas[name] = improvement(a.mean, b.mean, lower) if a and b else None
    return deltas
