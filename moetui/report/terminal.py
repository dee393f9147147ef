"""The report for a terminal: a Rich table, and val-loss curves drawn with plotext."""

from __future__ import annotations

import math

import plotext
from rich.console import Group
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from moetui.report import cells
from moetui.report.best import best_config_toml, best_summary
from moetui.report.journey import Journey
from moetui.report.ranking import BETTER, NOISE, NOT_COUNTED, WORSE, Ranking
from moetui.report.summary import RunSummary

_VERDICT_STYLE = {BETTER: "green", WORSE: "red", NOISE: "yellow", NOT_COUNTED: "dim"}


def _table(title: str, headers: list[str], rows: list[list[str]], styles: list[str] | None = None) -> Table:
    # Text throughout: a study, run name or reason with "[" in it is not markup.
    table = Table(title=Text(title), title_justify="left", show_lines=False)
    for header in headers:
        table.add_column(Text(header), overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(*map(Text, row), style=styles[i] if styles else None)
    return table


def render_ranking(ranking: Ranking, title: str) -> Group:
    styles = [_VERDICT_STYLE.get(row.verdict, "") for row in ranking.rows]
    parts = [Text(cells.scope(ranking)), Text(cells.sign_convention(ranking.metric), style="dim"),
             _table(title, cells.ranking_headers(ranking), cells.ranking_cells(ranking), styles)]
    parts += [Text(f"• {note}", style="yellow") for note in ranking.notes]
    parts.append(Text(cells.method(ranking), style="dim"))
    parts.append(Markdown("**Best configuration.** " + best_summary(ranking)))
    if ranking.best is not None:
        parts.append(Markdown(f"```toml\n{best_config_toml(ranking)}```"))
    return Group(*parts)


def render_journey(journey: Journey, title: str) -> Group:
    return Group(Text(cells.sign_convention(journey.metric), style="dim"),
                 _table(title, cells.journey_headers(journey), cells.journey_cells(journey)),
                 _table("Stages", cells.STAGE_HEADERS, cells.stage_cells(journey)))


def plot_curves(curves: list[tuple[str, RunSummary]], width: int | None = None, height: int | None = None) -> str:
    """Val-loss curves of every run overlaid, as terminal text (plotext). A run with a single
    eval is a point, which a line plot would not draw: it is drawn as a marker."""
    plotext.clear_figure()
    plotext.theme("clear")
    if width and height:
        plotext.plotsize(width, height)
    for label, run in curves:
        points = [(s, v) for s, v in zip(run.curve_steps, run.curve_loss) if math.isfinite(v)]
        xs, ys = [s for s, _ in points], [v for _, v in points]
        if len(points) == 1:
            plotext.scatter(xs, ys, label=label, marker="●")
        elif points:
            plotext.plot(xs, ys, label=label)
    plotext.title("val loss")
    plotext.xlabel("step")
    return plotext.build()
