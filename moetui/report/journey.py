"""The cumulative table across studies: the first baseline, then each study's best, in order.

Each study's best configuration (as the ranking names it, with its caveat) is the standing
configuration the next study builds on; a study with none leaves the previous one standing.
Each stage shows its Δ against the previous stage and against the first baseline, and the
config keys whose effective values changed since the previous stage. A study whose own
baseline is not the previous stage's configuration measured its in-study gain from
another start: the stage says so. A run of the final configuration made outside the
studies (seed 001's 6.7358 came from one) is shown as one more stage when the store has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moetui.report.identity import changes, identity
from moetui.report.metrics import METRICS, Metric
from moetui.report.ranking import SINGLE, Ranking
from moetui.report.rows import Row
from moetui.report.stats import Delta, improvement

# What the journey tracks per stage: the report metrics plus wall time.
TRACKED = {**{name: m.lower_is_better for name, m in METRICS.items()}, "wall_time": True}


@dataclass
class Stage:
    study: str  # "" for a separate run of the final configuration
    row: Row  # the configuration standing after this stage (the first stage: the first baseline)
    vs_previous: dict[str, Delta | None] = field(default_factory=dict)  # empty for the first stage
    vs_first: dict[str, Delta | None] = field(default_factory=dict)
    in_study: dict[str, Delta | None] = field(default_factory=dict)  # the best vs its own study's baseline
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # effective keys changed since the previous
    caveat: str | None = None
    note: str | None = None

    @property
    def is_origin(self) -> bool:
        return not self.vs_previous


@dataclass
class Journey:
    metric: Metric
    stages: list[Stage]

    @property
    def total(self) -> dict[str, Delta | None]:
        return self.stages[-1].vs_first


def build_journey(studies: list[tuple[str, Ranking]], separate: list[Row] = ()) -> Journey:
    """Stages: the first study's baseline, each study's best (or the previous standing
    configuration when it has none), then the first of `separate` -- rows of runs outside
    the studies -- whose counted runs ran the final configuration."""
    first_study, first = studies[0]
    origin = Stage(first_study, first.baseline)
    origin.vs_first = _deltas(origin.row, origin.row)
    stages = [origin]
    for study, ranking in studies:
        previous = stages[-1].row
        best = ranking.best
        row = best or previous
        stage = Stage(study, row, _deltas(previous, row), _deltas(origin.row, row),
                      changes=_config_changes(previous, row))
        if best is None:
            stage.note = f"no variant of {study} beat its baseline: {previous.label} stands"
        else:
            stage.in_study = _deltas(ranking.baseline, best)
            stage.caveat = SINGLE if best.verdict == SINGLE else None
            moved = _config_changes(previous, ranking.baseline)
            if moved:
                shown = ", ".join(f"{k}: {a} → {b}" for k, a, b in moved)
                stage.note = (f"{study}'s baseline {ranking.baseline.label} is not the previous stage's configuration "
                              f"({shown}): its in-study Δ starts from there")
        stages.append(stage)
    final = stages[-1].row
    rerun = next((row for row in separate if row.sound and row.config is not None and final.config is not None
                  and identity(row.config) == identity(final.config)), None)
    if rerun is not None:
        stages.append(Stage("", rerun, _deltas(final, rerun), _deltas(origin.row, rerun),
                            note=f"a separate run of the configuration of {final.label}"))
    return Journey(first.metric, stages)


def _config_changes(old: Row, new: Row) -> list[tuple[str, Any, Any]]:
    if old is new or old.config is None or new.config is None:
        return []
    return changes(old.config, new.config)


def _deltas(base: Row, row: Row) -> dict[str, Delta | None]:
    deltas = {}
    for name, lower in TRACKED.items():
        a, b = base.stats[name], row.stats[name]
        deltas[name] = improvement(a.mean, b.mean, lower) if a and b else None
    return deltas
