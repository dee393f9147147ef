"""A ranking's rows: runs grouped into variants, and which runs of each variant count.

A row is one variant: the runs of one study variant (or of no study) whose effective
configs are equal but for the seed (`identity`). A run whose config cannot be read joins
the row of its study variant when there is one, or stands alone; it is never counted,
since nothing says it ran the variant's config.

Counted -- in mean ± std, n and the t-test -- are the completed runs with a value of the
ranking metric, and at `--at-step` the running or stopped runs that reached that step.
Two counted runs of one seed are one experiment run twice: the latest counts, the other
is left out as a re-run. Every other run is listed with why it was left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.config import Config, ConfigError
from engine.sizing import size_of
from moetui.report.identity import distinct, identity
from moetui.report.metrics import METRICS
from moetui.report.stats import Delta, Stat, summarize
from moetui.report.summary import RunSummary
from moetui.status import COMPLETED, DAMAGED, LIVE, STOPPED

# Statuses whose numbers up to the step they reached are as good as a completed run's.
COUNTABLE_AT_STEP = (*LIVE, STOPPED)
RERUN = "re-run"


@dataclass
class Row:
    """One variant: its runs, the ones its statistics count, and (from the ranking) how it
    compares with the baseline."""

    study: str  # "" for runs outside a study, and for a run with no config to place it by
    variant: str
    runs: list[RunSummary] = field(default_factory=list)
    config: Config | None = None  # the variant's config (its runs' differ only in the seed)
    label: str = ""
    counted: list[RunSummary] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)  # run id -> why it is not counted
    # Per metric name, plus "wall_time": over the counted runs; where none counts, over every
    # run with a value, shown but never compared.
    stats: dict[str, Stat | None] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    deltas: dict[str, Delta | None] = field(default_factory=dict)
    p_value: float | None = None
    verdict: str = ""
    key_changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    rank: int | None = None
    fair: bool = False  # counted runs, a config, and no more compute than the baseline

    @property
    def n(self) -> int:
        return len(self.counted)

    @property
    def sound(self) -> bool:
        return bool(self.counted)

    @property
    def first(self) -> RunSummary:
        return (self.counted or self.runs)[0]

    @property
    def status(self) -> str:
        counts = Counter(run.status for run in self.runs)
        if len(counts) == 1:
            return self.first.status
        return ", ".join(f"{n} {status}" for status, n in counts.most_common())

    @property
    def seeds_text(self) -> str:
        """`n=3`, or what was left out: `n=2 of 3, 1 crashed`."""
        if not self.left_out:
            return f"n={self.n}"
        why = Counter(self.left_out.values())
        return f"n={self.n} of {len(self.runs)}, " + ", ".join(f"{k} {reason}" for reason, k in why.items())

    def measured(self) -> list[RunSummary]:
        """The runs whose compute the row stands for: the counted ones, else every run."""
        return self.counted or self.runs


def group_runs(summaries: list[RunSummary], metric: str, at_step: int | None) -> list[Row]:
    """The rows of `summaries`, in the order their first runs come, each with its counted
    runs, statistics and the flags that belong to the row itself."""
    configs = {run.id: _parse(run) for run in summaries}
    keys = _keys(summaries, configs)
    rows: dict[Any, Row] = {}
    for run in summaries:
        config, key = configs[run.id][0], keys[run.id]
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(key[0], key[1], config=config)
        row.runs.append(run)
        if config is not None:
            run.flops = run.tokens * size_of(config, run.vocab_size or config.data.vocab_size).flops_per_token
    out = list(rows.values())
    for row in out:
        _count(row, metric, at_step, configs)
        row.flags = _row_flags(row, configs)
    _label(out, summaries)
    return out


def _parse(run: RunSummary) -> tuple[Config | None, str | None]:
    """The run's config, or why it cannot be read (a key this version no longer knows)."""
    if run.config is None:
        return None, None  # damaged, or never written: the run's problem says why
    try:
        return Config.from_dict(run.config), None
    except ConfigError as e:
        return None, f"config unreadable ({e})"


def _keys(summaries: list[RunSummary], configs: dict) -> dict[str, tuple]:
    """Run id -> its row's key: (study, variant, identity). A run without a config joins the
    first row of its study variant, wherever in the list that row's runs come."""
    def variant(run: RunSummary) -> tuple[str, str]:
        return (run.study, run.variant or "") if run.study else ("", "")

    keys = {run.id: (*variant(run), identity(configs[run.id][0])) for run in summaries if configs[run.id][0]}
    first: dict[tuple[str, str], tuple] = {}
    for key in keys.values():
        first.setdefault(key[:2], key)
    for run in summaries:
        if run.id not in keys:
            joined = first.get(variant(run)) if run.study else None
            keys[run.id] = joined or (*variant(run), run.id)
    return keys


def _count(row: Row, metric: str, at_step: int | None, configs: dict) -> None:
    candidates = []
    for run in row.runs:
        why = _left_out(run, metric, at_step, configs[run.id][0] is not None)
        if why:
            row.left_out[run.id] = why
        else:
            candidates.append(run)
    latest: dict[int | None, RunSummary] = {}
    for run in candidates:
        if run.seed not in latest or (run.created or 0) >= (latest[run.seed].created or 0):
            latest[run.seed] = run
    for run in candidates:
        if latest[run.seed] is not run:
            row.left_out[run.id] = RERUN
    row.counted = [run for run in candidates if run.id not in row.left_out]
    shown = row.counted or row.runs
    row.stats = {name: summarize([run.metric(name) for run in shown]) for name in METRICS}
    row.stats["wall_time"] = summarize([run.wall_time for run in shown])


def _left_out(run: RunSummary, metric: str, at_step: int | None, has_config: bool) -> str | None:
    """Why the run's numbers stay out of the statistics, or None when they count."""
    if run.status == DAMAGED:
        return DAMAGED
    if not has_config:
        return "config unreadable" if run.config is not None else "no config"
    if run.status == COMPLETED:
        return None if run.metric(metric) is not None else "no result"
    if run.status in COUNTABLE_AT_STEP and at_step is not None and run.reached >= at_step:
        return None if run.metric(metric) is not None else "no result"
    return run.status


def _row_flags(row: Row, configs: dict) -> list[str]:
    flags = sorted({run.problem for run in row.runs if run.problem}
                   | {configs[run.id][1] for run in row.runs if configs[run.id][1]})
    reruns = sorted({str(row_run.seed) for row_run in row.runs if row.left_out.get(row_run.id) == RERUN})
    if reruns:
        flags.append(f"re-run of seed {', '.join(reruns)}: the latest counts")
    steps = sorted({run.step for run in row.counted})
    if len(steps) > 1:
        flags.append("compared at steps " + "/".join(map(str, steps)))
    return flags


def _label(rows: list[Row], summaries: list[RunSummary]) -> None:
    """Study rows by variant (`study/variant` when runs of several studies, or of a study and
    of none, are shown), other rows by their first run's name; a label that two rows would
    share gets each row's first short run id."""
    # (a damaged run's study is unknown, not "none": it does not make the others' labels longer)
    several = len({run.study or "" for run in summaries if run.status != DAMAGED}) > 1
    labels = [(f"{row.study}/{row.variant}" if several else row.variant) if row.study else row.runs[0].name
              for row in rows]
    for row, label in zip(rows, distinct(labels, [row.runs[0].id for row in rows])):
        row.label = label
