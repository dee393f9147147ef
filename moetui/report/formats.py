"""The one switch from a format name to its text, for `moetui report` and the TUI's export."""

from __future__ import annotations

from moetui.report import html, markdown, records, tabular
from moetui.report.journey import Journey
from moetui.report.ranking import Ranking

FORMATS = ("md", "csv", "json", "html")


def render_ranking(ranking: Ranking, fmt: str, title: str, chart: str | None = None) -> str:
    """`chart`: a path, relative to the Markdown file, of an SVG written beside it (md only;
    the HTML page always inlines its own chart)."""
    if fmt == "md":
        return markdown.render_ranking(ranking, title, chart)
    if fmt == "csv":
        return tabular.to_csv(records.csv_records(ranking))
    if fmt == "json":
        return tabular.to_json(records.ranking_record(ranking))
    if fmt == "html":
        return html.render_ranking(ranking, title)
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def render_journey(journey: Journey, fmt: str, title: str) -> str:
    if fmt == "md":
        return markdown.render_journey(journey, title)
    if fmt == "csv":
        return tabular.to_csv(records.journey_record(journey)["stages"])
    if fmt == "json":
        return tabular.to_json(records.journey_record(journey))
    if fmt == "html":
        return html.render_journey(journey, title)
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
