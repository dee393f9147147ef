"""Report tables as text cells: one place that formats numbers, for Markdown, Rich and HTML.

CSV and JSON carry raw numbers instead; these cells are for people.
"""

from __future__ import annotations

from moetui.report.journey import TRACKED, Journey
from moetui.report.ranking import METRICS, Metric, Ranking, Row
from moetui.report.stats import Delta, Stat

RANKING_HEADERS = ["Rank", "Run", "Val loss", "Val accuracy", "Val perplexity", "Δ vs baseline", "Verdict",
                   "Training time", "Tokens seen", "Params (total / active)", "Status", "Flags", "Key changes"]

_DIGITS = {"val_loss": 4, "val_accuracy": 2, "val_perplexity": 2}
_LABELS = {**{name: m.label for name, m in METRICS.items()}, "wall_time": "training time"}


def metric_value(name: str, value: float) -> str:
    if name == "wall_time":
        return duration(value)
    metric = METRICS[name]
    return f"{value * 100:.{_DIGITS[name]}f}%" if metric.percent else f"{value:.{_DIGITS[name]}f}"


def stat(name: str, s: Stat | None) -> str:
    """`6.8076`, or `6.8076 ± 0.0123 (n=3)` over several seeds; `–` when there is no value."""
    if s is None:
        return "–"
    if s.n == 1:
        return metric_value(name, s.mean)
    if s.std is None:
        return f"{metric_value(name, s.mean)} (n={s.n})"
    scale = 100 if name in METRICS and METRICS[name].percent else 1
    spread = duration(s.std) if name == "wall_time" else f"{s.std * scale:.{_DIGITS[name]}f}"
    return f"{metric_value(name, s.mean)} ± {spread} (n={s.n})"


def delta(name: str, d: Delta | None) -> str:
    """`+6.5% (+0.4709)`; accuracy's absolute part in percentage points: `+23.1% (+2.67 pp)`."""
    if d is None:
        return "–"
    if name == "wall_time":
        return f"{d.relative:+.1f}% ({'-' if d.absolute > 0 else '+'}{duration(abs(d.absolute))})"
    if METRICS[name].percent:
        return f"{d.relative:+.1f}% ({d.absolute * 100:+.2f} pp)"
    return f"{d.relative:+.1f}% ({d.absolute:+.{_DIGITS[name]}f})"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def count(value: int | None) -> str:
    """1,234 -> `1.23k`, 79_100_000 -> `79.1M`: the size at a glance (CSV/JSON keep exact numbers)."""
    if value is None:
        return "–"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


def change(key: str, old: object, new: object) -> str:
    return f"{key}: {old} → {new}"


def ranking_cells(ranking: Ranking) -> list[list[str]]:
    return [_row_cells(row, ranking.metric) for row in ranking.rows]


def _row_cells(row: Row, m: Metric) -> list[str]:
    first = row.first
    return [
        str(row.rank) if row.rank else "–",
        row.label,
        *(stat(name, row.stats[name]) for name in METRICS),
        "baseline" if row.is_baseline else delta(m.name, row.deltas.get(m.name)),
        row.verdict,
        stat("wall_time", row.stats["wall_time"]),
        count(first.tokens),
        f"{count(first.params_total)} / {count(first.params_active)}",
        row.status,
        "; ".join(row.flags),
        ", ".join(change(*c) for c in row.key_changes),
    ]


def sign_convention(m: Metric) -> str:
    direction = "lower" if m.lower_is_better else "higher"
    return (f"Ranked by {m.label} ({direction} is better). Δ vs baseline: positive = better (a lower loss "
            "or perplexity, a higher accuracy); relative in % of the baseline, absolute in the metric's "
            "units (accuracy in percentage points). A gain smaller than the seed-to-seed spread is "
            "\"within noise\".")


def scope(ranking: Ranking) -> str:
    where = f"at step {ranking.at_step} (last eval at or before it)" if ranking.at_step else "at each run's last eval"
    base = ranking.baseline
    runs = sum(row.n for row in ranking.rows)
    return (f"Compared {where}; baseline: {base.label} (n={base.n}); "
            f"{len(ranking.rows)} variants, {runs} runs.")


def journey_headers(journey: Journey) -> list[str]:
    first = journey.stages[0]
    return (["Metric", f"Original baseline ({first.study}: {first.row.label})"]
            + [f"After {s.study} ({s.row.label})" for s in journey.stages[1:]] + ["Total improvement"])


def journey_cells(journey: Journey) -> list[list[str]]:
    """Seed 001's layout: one row per metric, one column per stage, then the total."""
    return [[_LABELS[name].capitalize(), *(stat(name, s.row.stats[name]) for s in journey.stages),
             delta(name, journey.total[name])] for name in TRACKED]


STAGE_HEADERS = ["Stage", "Study", "Standing variant", "Key changes vs study baseline", "Δ in study",
                 "Δ cumulative", "Note"]


def stage_cells(journey: Journey) -> list[list[str]]:
    name = journey.metric.name
    return [[str(i), s.study, s.row.label,
             ", ".join(change(*c) for c in s.row.key_changes) if not s.is_origin else "",
             delta(name, s.in_study.get(name)) if not s.is_origin else "origin",
             delta(name, s.cumulative.get(name)), s.note or ""] for i, s in enumerate(journey.stages)]
