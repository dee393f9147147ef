"""`moetui report`: ablation tables people can trust, and the ranking the TUI's compare view shows.

Layers, each its own module: `digest`/`cache` read events (once per file version),
`summary` reduces a run, `identity` says which runs are replicates, `rows` groups them and
picks the ones that count, `stats` and `ranking` do the arithmetic and the verdicts,
`journey` chains studies, `cells`/`markdown`/`html`/`svg`/`terminal`/`records`/`tabular`
render, and `command` is the CLI entry point.
"""

from moetui.report.ranking import METRICS, Ranking, ReportError, Row, rank_runs
from moetui.report.summary import RunSummary, summarize

__all__ = ["METRICS", "Ranking", "ReportError", "Row", "RunSummary", "rank_runs", "summarize"]
