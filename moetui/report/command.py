"""`moetui report`: the run store as ablation tables (Markdown, CSV, JSON, HTML, terminal)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Optional

import typer
from rich.console import Console

from engine.config import ConfigError
from engine.rundir import atomic_write_text
from moetui.report import formats
from moetui.report.cache import DigestCache
from moetui.report.collect import select, summaries
from moetui.report.formats import FORMATS
from moetui.presets import PresetError, load_study
from moetui.report.journey import Journey, build_journey
from moetui.report.ranking import METRICS, Ranking, ReportError, rank_runs
from moetui.report.rows import group_runs
from moetui.report.svg import curves_svg
from moetui.runs import RunNotFound, RunStore

_Runs = Annotated[Optional[list[str]], typer.Argument(
    help="Run ids or names (default: every run); with --journey, study names in order", show_default=False)]
_Study = Annotated[Optional[list[str]], typer.Option("--study", "-s", help="Report every run of this study (repeatable)")]
_Baseline = Annotated[Optional[str], typer.Option(
    help="Variant, run name or id to compare against, in any case (default: the study's declared baseline; "
         "for runs named as arguments, the first of them)")]
_Alpha = Annotated[float, typer.Option(help="Significance level: better or worse only at a t-test p below it")]
_Metric = Annotated[str, typer.Option(help=f"Ranking metric: {', '.join(METRICS)}")]
_Format = Annotated[Optional[str], typer.Option(
    "--format", "-f", help=f"{', '.join(FORMATS)} (default: md; a table when stdout is a terminal)")]
_Out = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file instead of stdout")]
_Journey = Annotated[bool, typer.Option(
    "--journey", help="Cumulative table across the studies named as arguments: first baseline → each study's best")]
_AtStep = Annotated[Optional[int], typer.Option(
    "--at-step", min=1, help="Compare at this step (each run's last eval at or before it)")]
_Plot = Annotated[bool, typer.Option("--plot", help="Draw the val-loss curves in the terminal")]
_Chart = Annotated[Optional[Path], typer.Option("--chart", help="Also write the val-loss curves to this .svg file")]
_RunsDir = Annotated[Optional[Path], typer.Option("--runs-dir", help="Run store (default: $MOETUI_RUNS or ./runs)")]


def report_command(runs: _Runs = None, study: _Study = None, baseline: _Baseline = None, metric: _Metric = "val_loss",
                   alpha: _Alpha = 0.05, format: _Format = None, out: _Out = None, journey: _Journey = False,
                   at_step: _AtStep = None, plot: _Plot = False, chart: _Chart = None,
                   runs_dir: _RunsDir = None) -> None:
    """Rank runs against a baseline: val loss, accuracy, perplexity, Δ, p, verdict, compute, key changes."""
    try:
        _report(runs or [], study or [], baseline, metric, alpha, format, out, journey, at_step, plot, chart,
                runs_dir)
    except (ReportError, RunNotFound, ConfigError) as e:
        typer.echo(f"moetui report: {e}", err=True)
        raise typer.Exit(1) from None
    except OSError as e:
        typer.echo(f"moetui report: {e.filename}: {e.strerror}", err=True)
        raise typer.Exit(1) from None


def _report(names: list[str], studies: list[str], baseline: str | None, metric: str, alpha: float, fmt: str | None,
            out: Path | None, journey: bool, at_step: int | None, plot: bool, chart: Path | None,
            runs_dir: Path | None) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if chart is not None and chart.suffix.lower() != ".svg":
        raise ReportError(f"--chart {chart}: charts are drawn as SVG; give a path ending in .svg")
    rich = fmt is None and out is None and sys.stdout.isatty()
    fmt = fmt or "md"
    store = RunStore.from_env(runs_dir)
    cache = DigestCache.for_store(store.root)
    all_records = store.list()
    if journey:
        if not names:
            raise ReportError("--journey needs the studies in order, e.g. moetui report --journey ablation lr-schedule")
        unused = [flag for flag, given in (("--study", studies), ("--chart", chart), ("--plot", plot)) if given]
        if unused:  # said rather than ignored, so nobody waits for a chart that never comes
            raise ReportError(f"--journey does not take {', '.join(unused)}: name the studies as arguments; "
                              "it draws no curves")
        rankings = [(s, _study_ranking(s, all_records, store, cache, baseline, metric, at_step, alpha))
                    for s in names]
        # Runs outside the studies: one of them may be a separate run of the final configuration.
        others = summaries([r for r in all_records if r.study not in names], cache, at_step)
        cache.save()
        separate = group_runs(others, metric, at_step) if others else []
        _emit_journey(build_journey(rankings, separate), f"Cumulative results: {' → '.join(names)}", fmt, out, rich)
        return
    chosen = select(all_records, names, studies, store.get)
    wanted, choice = _baseline(baseline, names, studies, chosen)
    ranking = rank_runs(summaries(chosen, cache, at_step), wanted, metric, at_step, alpha, choice)
    cache.save()
    title = f"Study {', '.join(studies)}" if studies and not names else "Run comparison"
    chart_link = None
    if chart is not None:
        _save(chart, curves_svg(ranking.curves()))
        chart_link = _relative(chart, out)
    _emit_ranking(ranking, title, fmt, out, rich, chart_link)
    if plot:
        typer.echo(_terminal().plot_curves(ranking.curves()))


def _baseline(given: str | None, names: list[str], studies: list[str], chosen: list) -> tuple[str, str]:
    """The baseline to look for, and how it was chosen (the report's footer says so)."""
    if given:
        return given, "named with --baseline"
    if names:
        return chosen[0].id, "the first run named"
    if studies:
        return _declared(studies[0], chosen)
    return (chosen[0].id if chosen else ""), "the earliest run (none named; pick one with --baseline)"


def _declared(study: str, records: list) -> tuple[str, str]:
    """The study's declared baseline; without one, a refusal that lists the candidates
    rather than a guess."""
    try:
        declared, why = load_study(study).baseline, "its study file declares no baseline"
    except PresetError as e:
        declared, why = None, f"its study file cannot be read ({e.message})"
    if declared:
        return f"{study}/{declared}", f"declared by study {study}"
    candidates = sorted({r.variant for r in records if r.study == study and r.variant})
    raise ReportError(f"study {study!r}: {why}; name the baseline with --baseline"
                      + (f" (variants: {', '.join(candidates)})" if candidates else ""))


def _study_ranking(study: str, all_records: list, store: RunStore, cache: DigestCache, baseline: str | None,
                   metric: str, at_step: int | None, alpha: float) -> Ranking:
    records = select(all_records, [], [study], store.get)
    wanted, choice = (baseline, "named with --baseline") if baseline else _declared(study, records)
    try:
        return rank_runs(summaries(records, cache, at_step), wanted, metric, at_step, alpha, choice)
    except ReportError as e:  # say which study the baseline or metric was missing from
        raise ReportError(f"study {study!r}: {e}") from None


def _emit_ranking(ranking: Ranking, title: str, fmt: str, out: Path | None, rich: bool, chart: str | None) -> None:
    if rich:
        Console().print(_terminal().render_ranking(ranking, title))
    else:
        _write(formats.render_ranking(ranking, fmt, title, chart), out)


def _emit_journey(journey: Journey, title: str, fmt: str, out: Path | None, rich: bool) -> None:
    if rich:
        Console().print(_terminal().render_journey(journey, title))
    else:
        _write(formats.render_journey(journey, fmt, title), out)


def _terminal() -> ModuleType:
    """`moetui.report.terminal`, imported only for a terminal table or `--plot`: its Rich
    Markdown and plotext add 25 ms to every other report's start-up."""
    from moetui.report import terminal

    return terminal


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        _save(out, text)
        typer.echo(f"wrote {out}", err=True)


def _save(path: Path, text: str) -> None:
    """Write a file the person named; a failure names their path, not the temporary file
    beside it that the atomic write was using."""
    if path.is_dir():
        raise ReportError(f"cannot write {path}: it is a directory; give a file path")
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise ReportError(f"cannot write {path}: {e.strerror}") from None


def _relative(chart: Path, out: Path | None) -> str:
    """How the Markdown links the chart: relative to the report file when both are files."""
    base = (out.parent if out else Path.cwd()).resolve()
    try:
        return str(chart.resolve().relative_to(base))
    except ValueError:
        return str(chart.resolve())
