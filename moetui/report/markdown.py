"""The report as Markdown: the ranking table, its notes, the best configuration as a preset."""

from __future__ import annotations

from moetui.report import cells
from moetui.report.best import best_config_toml, best_summary
from moetui.report.journey import Journey
from moetui.report.ranking import Ranking


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = [_line(headers), _line(["---"] * len(headers))]
    lines += [_line(row) for row in rows]
    return "\n".join(lines)


def _line(cells_: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells_) + " |"


def render_ranking(ranking: Ranking, title: str, chart: str | None = None) -> str:
    """The whole report; `chart` is a relative path to an image written beside it."""
    parts = [f"# {title}", cells.scope(ranking), cells.sign_convention(ranking.metric),
             table(cells.ranking_headers(ranking), cells.ranking_cells(ranking))]
    if ranking.notes:
        parts.append("\n".join(f"- {note}" for note in ranking.notes))
    parts.append(cells.method(ranking))
    if chart:
        parts.append(f"![val loss curves]({chart})")
    parts.append("## Best configuration")
    best = ranking.best
    parts.append(best_summary(ranking))
    if best is not None:
        parts.append(f"```toml\n{best_config_toml(ranking)}```")
    return "\n\n".join(parts) + "\n"


def render_journey(journey: Journey, title: str) -> str:
    parts = [f"# {title}", cells.sign_convention(journey.metric),
             table(cells.journey_headers(journey), cells.journey_cells(journey)),
             "## Stages", table(cells.STAGE_HEADERS, cells.stage_cells(journey))]
    return "\n\n".join(parts) + "\n"
