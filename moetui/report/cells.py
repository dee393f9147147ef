"""Report tables as text cells: one place that formats numbers, for Markdown, Rich, HTML and the TUI.

CSV and JSON carry raw numbers instead; these cells are for people. Every column keeps one
unit and one sign convention: a Δ is positive when better, a time column is in one unit
(named in its header), and a percentage has the digits it needs to never read 0.0% for a
difference that is not zero.
"""

from __future__ import annotations

import math

from engine.config import format_value
from moetui.report.journey import TRACKED, Journey
from moetui.report.ranking import COMPUTE_TOLERANCE, SINGLE, TEST, Ranking
from moetui.report.metrics import METRICS, Metric
from moetui.report.rows import Row
from moetui.report.stats import Delta, Stat

_DIGITS = {"val_loss": 4, "val_accuracy": 2, "val_perplexity": 2}
_LABELS = {**{name: m.label for name, m in METRICS.items()}, "wall_time": "wall time"}


def percent(value: float) -> str:
    """Signed, with at least two significant digits and one decimal: +6.5%, +0.036%, -1.4%."""
    if not math.isfinite(value):
        return "n/a"  # a change from zero has no percentage
    return f"{value:+.{_decimals(value, 1)}f}%"


def _decimals(value: float, least: int) -> int:
    """`least` decimals, or more where fewer would leave under two significant digits."""
    if value == 0 or not math.isfinite(value):
        return least
    return max(least, 1 - math.floor(math.log10(abs(value))))


def metric_value(name: str, value: float) -> str:
    metric = METRICS[name]
    return f"{value * 100:.{_DIGITS[name]}f}%" if metric.percent else f"{value:.{_DIGITS[name]}f}"


def stat(name: str, s: Stat | None) -> str:
    """`6.8076`, or `6.8076 ± 0.0123` over several seeds; `–` when there is no value."""
    if s is None:
        return "–"
    if s.std is None:
        return metric_value(name, s.mean)
    scale = 100 if METRICS[name].percent else 1
    return f"{metric_value(name, s.mean)} ± {s.std * scale:.{_DIGITS[name]}f}"


def delta(name: str, d: Delta | None) -> str:
    """`+6.5% (+0.4709)`; accuracy's absolute part in percentage points: `+23.1% (+2.67 pp)`."""
    if d is None:
        return "–"
    if METRICS[name].percent:
        points = d.absolute * 100
        return f"{percent(d.relative)} ({points:+.{_decimals(points, 2)}f} pp)"
    return f"{percent(d.relative)} ({d.absolute:+.{_decimals(d.absolute, _DIGITS[name])}f})"


def p_value(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def time_unit(seconds: list[float | None]) -> tuple[str, float]:
    """One unit for a column of durations: s up to 2 min, min up to 2 h, then h."""
    top = max((s for s in seconds if s is not None), default=0.0)
    return ("h", 3600.0) if top >= 7200 else ("min", 60.0) if top >= 120 else ("s", 1.0)


def duration(s: Stat | None, unit: tuple[str, float]) -> str:
    if s is None:
        return "–"
    scale = unit[1]
    return f"{s.mean / scale:.1f}" + (f" ± {s.std / scale:.1f}" if s.std is not None else "")


def count(value: int | None) -> str:
    """1,234 -> `1.23k`, 79_100_000 -> `79.1M`: the size at a glance (CSV/JSON keep exact numbers)."""
    if value is None:
        return "–"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


def flops(value: float | None) -> str:
    return "–" if not value else f"{value:.3g}".replace("e+", "e")


def change(key: str, old: object, new: object) -> str:
    return f"{key}: {format_value(old)} → {format_value(new)}"


def _span(values: list, show) -> str:
    """One value, or the range a row's runs cover: `492k`, `246k–492k`."""
    known = sorted({v for v in values if v is not None})
    if not known:
        return "–"
    return show(known[0]) if len(known) == 1 else f"{show(known[0])}–{show(known[-1])}"


def ranking_headers(ranking: Ranking) -> list[str]:
    unit = _time_unit_of(ranking)[0]
    return ["Rank", "Run", "Seeds", "Val loss", "Val accuracy", "Val perplexity",
            f"Δ {ranking.metric.label} vs baseline", "p", "Verdict", "Step", "Tokens", "Training FLOPs",
            f"Wall time ({unit}, incl. evals)", "Params (total / active)", "Status", "Flags", "Key changes"]


def _time_unit_of(ranking: Ranking) -> tuple[str, float]:
    return time_unit([row.stats["wall_time"].mean for row in ranking.rows if row.stats["wall_time"]])


def ranking_cells(ranking: Ranking) -> list[list[str]]:
    unit = _time_unit_of(ranking)
    return [_row_cells(row, ranking.metric, unit) for row in ranking.rows]


def _row_cells(row: Row, m: Metric, unit: tuple[str, float]) -> list[str]:
    first, runs = row.first, row.measured()
    return [
        str(row.rank) if row.rank else "–",
        row.label,
        row.seeds_text,
        *(stat(name, row.stats[name]) for name in METRICS),
        "baseline" if row.verdict == "baseline" else delta(m.name, row.deltas.get(m.name)),
        p_value(row.p_value),
        row.verdict,
        _span([r.step for r in runs], str),
        _span([r.tokens for r in runs], count),
        _span([r.flops for r in runs], flops),
        duration(row.stats["wall_time"], unit),
        f"{count(first.params_total)} / {count(first.params_active)}",
        row.status,
        "; ".join(row.flags),
        ", ".join(change(*c) for c in row.key_changes),
    ]


def sign_convention(m: Metric) -> str:
    direction = "lower" if m.lower_is_better else "higher"
    return (f"Ranked by {m.label} ({direction} is better). Δ: positive = better (a lower loss, perplexity or "
            "time, a higher accuracy); relative in % of the baseline, absolute in the metric's units (accuracy "
            "in percentage points).")


def scope(ranking: Ranking) -> str:
    where = f"at step {ranking.at_step} (last eval at or before it)" if ranking.at_step else "at each run's last eval"
    base = ranking.baseline
    runs = sum(len(row.runs) for row in ranking.rows)
    return (f"Compared {where}; baseline: {base.label} ({base.seeds_text}), {ranking.baseline_choice}; "
            f"{len(ranking.rows)} variants, {runs} runs.")


def method(ranking: Ranking) -> str:
    """The footer: how every verdict in the table was reached."""
    counted = "completed runs" + (f", and running or stopped runs that reached step {ranking.at_step}"
                                  if ranking.at_step else "")
    return (f"Verdicts: {TEST} of each variant's counted seeds against the baseline's; better or worse only at "
            f"p < {ranking.alpha:g}, within noise otherwise; with one seed on either side, \"{SINGLE}\". "
            f"Counted: {counted}; crashed, diverged, failed, damaged, unfinished and re-run seeds are listed, not "
            f"counted. Compute: tokens and training FLOPs at the compared eval; a variant that spent more than "
            f"the baseline (by over {COMPUTE_TOLERANCE:.0%}) is flagged and is never the best configuration. "
            f"Baseline: {ranking.baseline.label}, {ranking.baseline_choice}.")


def journey_headers(journey: Journey) -> list[str]:
    first = journey.stages[0]
    return (["Metric", f"Original baseline ({first.study}: {first.row.label})"]
            + [f"After {s.study} ({s.row.label})" if s.study else f"Separate run ({s.row.label})"
               for s in journey.stages[1:]] + ["Total improvement"])


def journey_cells(journey: Journey) -> list[list[str]]:
    """Seed 001's layout: one row per metric, one column per stage, then the total."""
    unit = time_unit([s.row.stats["wall_time"].mean for s in journey.stages if s.row.stats["wall_time"]])
    rows = []
    for name in TRACKED:
        if name == "wall_time":
            values = [duration(s.row.stats[name], unit) for s in journey.stages]
            rows.append([f"Wall time ({unit[0]}, incl. evals)", *values, _time_delta(journey.total[name], unit)])
        else:
            rows.append([_LABELS[name].capitalize(), *(stat(name, s.row.stats[name]) for s in journey.stages),
                         delta(name, journey.total[name])])
    return rows


def _time_delta(d: Delta | None, unit: tuple[str, float]) -> str:
    """A time saved is positive, like every other Δ: `+10.0% (+0.3)` is 0.3 units faster."""
    if d is None:
        return "–"
    saved = d.absolute / unit[1]
    return f"{percent(d.relative)} ({saved:+.{_decimals(saved, 1)}f})"


STAGE_HEADERS = ["Stage", "Study", "Configuration", "Changes from the previous stage", "Δ vs previous",
                 "Δ vs first baseline", "Δ in study", "Caveat", "Note"]


def stage_cells(journey: Journey) -> list[list[str]]:
    name = journey.metric.name
    return [[str(i), s.study or "(separate run)", s.row.label, ", ".join(change(*c) for c in s.changes),
             "origin" if s.is_origin else delta(name, s.vs_previous.get(name)),
             delta(name, s.vs_first.get(name)), delta(name, s.in_study.get(name)) if s.in_study else "–",
             s.caveat or "", s.note or ""] for i, s in enumerate(journey.stages)]
