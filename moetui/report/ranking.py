"""The ranking table: variants ranked by a metric against a baseline, each with a verdict.

Shared by `moetui report` and the TUI's compare view, so both say the same thing. Which
runs form a row and which of them count is `rows`'s; here:
- Order: rows with counted runs by their mean, then rows with none counted (crashed,
  diverged, still running...) by the value they showed, then rows without a value.
- Verdict: Welch's t-test between the counted seeds and the baseline's; "better" or
  "worse" only at p < alpha, "within noise" otherwise. With one seed on either side
  there is no noise estimate, and the verdict says so instead of a win.
- Compute: tokens and training FLOPs at the compared eval. A variant that spent more than
  the baseline is flagged with both numbers and is never the best configuration; other
  optimizer steps over the same tokens (gradient accumulation) are not more compute.
- Best configuration: the top-ranked fair variant above the baseline that is "better",
  or untested with a single seed (then named with that caveat).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from moetui.report.identity import changes, distinct, identity
from moetui.report.metrics import METRICS, Metric
from moetui.report.rows import Row, group_runs
from moetui.report.stats import improvement, welch_p
from moetui.report.summary import RunSummary

__all__ = ["METRICS", "Metric", "Ranking", "ReportError", "Row", "rank_runs"]

BASELINE, BETTER, WORSE, NOISE = "baseline", "better", "worse", "within noise"
SINGLE = "single seed: no noise estimate"
NOT_COUNTED, NO_RESULT = "not counted", "no result"
TEST = "Welch's t-test (scipy.stats.ttest_ind, equal_var=False, two-sided)"
# More compute than the baseline: over it by more than this share. (24 experts' wider
# router adds 0.1% to a 16-expert model's FLOPs, which buys no result.)
COMPUTE_TOLERANCE = 0.01


class ReportError(Exception):
    """A problem with what the user asked for (empty selection, unknown baseline or metric)."""


@dataclass
class Ranking:
    metric: Metric
    rows: list[Row]  # in rank order; rows without a value last
    baseline: Row
    at_step: int | None = None
    alpha: float = 0.05
    baseline_choice: str = ""  # how the baseline was chosen, for the footer
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> Row | None:
        """The best configuration: the first row above the baseline that is fair (counted,
        no more compute) and either better or a single seed's untested lead."""
        for row in self.rows:
            if row is self.baseline:
                return None
            if row.fair and row.verdict in (BETTER, SINGLE) and row.deltas[self.metric.name].absolute > 0:
                return row
        return None

    def run_labels(self) -> dict[str, str]:
        """A label per run id that tells every run apart: in chart legends and exports."""
        pairs = [(row, run) for row in self.rows for run in row.runs]
        labels = [_run_label(row, run) for row, run in pairs]
        return dict(zip((run.id for _, run in pairs), distinct(labels, [run.id for _, run in pairs])))

    def curves(self) -> list[tuple[str, RunSummary]]:
        """Every run with the label its curve gets in a chart legend."""
        labels = self.run_labels()
        return [(labels[run.id], run) for row in self.rows for run in row.runs]


def _run_label(row: Row, run: RunSummary) -> str:
    label = (f"{row.label} seed {run.seed}" if len(row.runs) > 1 else row.label) if row.study else run.name
    why = row.left_out.get(run.id)
    return f"{label} ({why})" if why else label


def rank_runs(summaries: list[RunSummary], baseline: str, metric: str = "val_loss", at_step: int | None = None,
              alpha: float = 0.05, baseline_choice: str = "named with --baseline") -> Ranking:
    """Rank the variants of `summaries` by `metric` against the `baseline` (a variant, row
    label, `study/variant`, run name or id; exact first, then ignoring case). `at_step`: the
    summaries were taken there, so live and stopped runs that reached it count."""
    if not summaries:
        raise ReportError("no runs selected: name runs, pick a --study, or launch some first")
    if metric not in METRICS:
        raise ReportError(f"unknown metric {metric!r}{_suggest(metric, METRICS)} (metrics: {', '.join(METRICS)})")
    if not 0 < alpha < 1:
        raise ReportError(f"--alpha {alpha:g}: give a significance level between 0 and 1, e.g. 0.05")
    m = METRICS[metric]
    rows = group_runs(summaries, metric, at_step)
    base = find_baseline(rows, baseline)
    base.verdict = BASELINE
    for row in rows:
        row.fair = _check_compute(row, base)
        if row is not base:
            _compare(row, base, m, alpha)
    _flag_twins(rows)
    sign = 1 if m.lower_is_better else -1
    rows.sort(key=lambda r: (0 if r.sound else 1, sign * r.stats[m.name].mean) if r.stats[m.name] else (2, 0))
    for rank, row in enumerate((r for r in rows if r.stats[m.name]), 1):
        row.rank = rank
    ranking = Ranking(m, rows, base, at_step, alpha, baseline_choice)
    if not base.sound:
        ranking.notes.append(f"The baseline {base.label} has no counted run ({base.seeds_text}; status "
                             f"{base.status}): nothing is compared with it.")
    return ranking


def find_baseline(rows: list[Row], wanted: str) -> Row:
    for fold in (str, str.lower):  # an exact match first, then one that ignores case
        for row in rows:
            names = {row.label, row.variant, f"{row.study}/{row.variant}" if row.study else ""}
            names |= {name for run in row.runs for name in (run.name, run.id)}
            if fold(wanted) in {fold(name) for name in names if name}:
                return row
    labels = {row.label: None for row in rows}
    raise ReportError(f"baseline {wanted!r} is not among the selected runs{_suggest(wanted, labels)}"
                      f" (variants: {', '.join(labels)})")


def _compare(row: Row, base: Row, m: Metric, alpha: float) -> None:
    if row.config is not None and base.config is not None:
        row.key_changes = changes(base.config, row.config)
    if not row.stats[m.name]:
        row.verdict = NO_RESULT
        return
    if not row.sound:
        row.verdict = NOT_COUNTED
        return
    if not base.sound:
        row.verdict = NO_RESULT
        return
    for name, metric in METRICS.items():
        a, b = base.stats[name], row.stats[name]
        row.deltas[name] = improvement(a.mean, b.mean, metric.lower_is_better) if a and b else None
    if base.n < 2 or row.n < 2:
        row.verdict = SINGLE
        return
    row.p_value = welch_p([r.metric(m.name) for r in base.counted], [r.metric(m.name) for r in row.counted])
    gain = row.deltas[m.name].absolute
    significant = row.p_value is not None and row.p_value < alpha and gain != 0
    row.verdict = (BETTER if gain > 0 else WORSE) if significant else NOISE


def _check_compute(row: Row, base: Row) -> bool:
    """Flag a row that spent other compute than the baseline by its compared eval (tokens,
    training FLOPs) with both numbers; whether the row is fair: counted runs, a config to
    size it by, and no more compute."""
    fair = row.sound and row.config is not None
    if row is base:
        return fair
    tokens, ref_tokens = _most(r.tokens for r in row.measured()), _most(r.tokens for r in base.measured())
    flops, ref_flops = _most(r.flops for r in row.measured()), _most(r.flops for r in base.measured())
    more = _above(tokens, ref_tokens) or _above(flops, ref_flops)
    if more or _above(ref_tokens, tokens) or _above(ref_flops, flops):
        row.flags.append(f"{'more' if more else 'less'} compute than the baseline: {tokens:,} vs {ref_tokens:,} "
                         f"tokens, {_sci(flops)} vs {_sci(ref_flops)} FLOPs")
    return fair and not more


def _most(values) -> float | None:
    known = [v for v in values if v]
    return max(known) if known else None


def _above(value: float | None, ref: float | None) -> bool:
    return value is not None and ref is not None and value > ref * (1 + COMPUTE_TOLERANCE)


def _sci(value: float | None) -> str:
    return "?" if value is None else f"{value:.3g}".replace("e+", "e")


def _flag_twins(rows: list[Row]) -> None:
    """Two variants of one effective config are one experiment under two names (seed 002's
    8_few_experts is its 1_baseline): said on the later row."""
    seen: dict[tuple, Row] = {}
    for row in rows:
        if row.config is None:
            continue
        key = identity(row.config)
        if key in seen:
            row.flags.append(f"same effective config as {seen[key].label}")
        else:
            seen[key] = row


def _suggest(name: str, known: dict) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""
