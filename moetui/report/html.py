"""The report as one self-contained HTML file: inline CSS, the ranking table, the val-loss
curves as inline SVG, the best configuration. It makes no request when opened."""

from __future__ import annotations

from html import escape

from moetui.report import cells
from moetui.report.best import best_config_toml, best_summary
from moetui.report.journey import Journey
from moetui.report.ranking import Ranking
from moetui.report.svg import curves_svg

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
tr.better td { background: #eef8ee; } tr.worse td { background: #fbeeee; }
tr.within-noise td { background: #fdf8e6; } tr.baseline td { font-weight: bold; }
tr.not-counted td { color: #999; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
.note { color: #8a6d00; } .dim { color: #666; }
"""


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>\n")


def render_ranking(ranking: Ranking, title: str) -> str:
    classes = [row.verdict.split(":")[0].replace(" ", "-") for row in ranking.rows]
    parts = [f"<p>{escape(cells.scope(ranking))}</p>",
             f'<p class="dim">{escape(cells.sign_convention(ranking.metric))}</p>',
             _table(cells.ranking_headers(ranking), cells.ranking_cells(ranking), classes)]
    parts += [f'<p class="note">{escape(note)}</p>' for note in ranking.notes]
    parts.append(f'<p class="dim">{escape(cells.method(ranking))}</p>')
    parts.append(curves_svg(ranking.curves(), standalone=False))
    parts.append(f"<h2>Best configuration</h2><p>{escape(best_summary(ranking).replace('**', ''))}</p>")
    if ranking.best is not None:
        parts.append(f"<pre>{escape(best_config_toml(ranking))}</pre>")
    return _page(title, "\n".join(parts))


def render_journey(journey: Journey, title: str) -> str:
    body = (f'<p class="dim">{escape(cells.sign_convention(journey.metric))}</p>'
            + _table(cells.journey_headers(journey), cells.journey_cells(journey))
            + "<h2>Stages</h2>" + _table(cells.STAGE_HEADERS, cells.stage_cells(journey)))
    return _page(title, body)
