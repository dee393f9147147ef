"""The marked runs side by side: overlaid curves (one colour per run in every chart), the
config keys that differ, and the report's ranking with Δ vs a chosen baseline."""

from __future__ import annotations

from pathlib import Path

from rich import markup
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from moetui.report import cells
from moetui.report.identity import distinct
from moetui.report.ranking import Ranking, ReportError
from moetui.report.run_config import read_run_config
from moetui.tui.chart_data import color_of, metric_series, shared_x_range
from moetui.tui.compare_data import differing_keys, export, ranking_of
from moetui.tui.screens.chart_keys import CHART_BINDINGS, ChartKeys, settings_label
from moetui.tui.screens.live import LiveScreen
from moetui.tui.screens.prompt import Prompt
from moetui.tui.widgets.metric_chart import MetricChart
from moetui.tui.widgets.tables import Table

CHARTS = (("cmp-loss", "train loss", "loss"), ("cmp-val", "val loss", "val_loss"),
          ("cmp-ppl", "val perplexity", "val_perplexity"), ("cmp-lr", "learning rate", "lr"))


class CompareScreen(ChartKeys, LiveScreen):
    CSS_PATH = "compare.tcss"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("b", "baseline", "Baseline"),
        Binding("e", "export", "Export"),
        *CHART_BINDINGS,
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.baseline = run_ids[0]
        self.baseline_choice = "the first marked run"
        self.ranking: Ranking | None = None
        self._ranked: tuple | None = None  # what the ranking was computed from

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="legend")
        with TabbedContent(initial="tab-ranking"):
            with TabPane("Ranking", id="tab-ranking"):
                with VerticalScroll():
                    yield Table(id="ranking", cursor_type="row")
                    yield Static("", id="ranking-notes")
            with TabPane("Config diff", id="tab-diff"):
                yield Table(id="config-diff", cursor_type="row")
            with TabPane(settings_label(self.settings, "Curves"), id="tab-curves"):
                with Grid(id="compare-charts"):
                    for ident, title, metric in CHARTS:
                        yield MetricChart(title, id=ident, empty="no eval yet" if "val" in metric else "no step yet")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.title = f"Compare {len(self.run_ids)} runs"
        self._draw_diff()

    def _labels(self) -> list[str]:
        """The marked runs' names, with a short id where two share one (runs made before names
        were unique): what the legend, the charts and the diff's columns call them."""
        return distinct([self.app.run_name(run_id) for run_id in self.run_ids], self.run_ids)

    def _draw_diff(self) -> None:
        configs = [read_run_config(self.app.store.path(run_id))[0] for run_id in self.run_ids]
        table = self.query_one("#config-diff", DataTable)
        table.add_column("key", key="key")
        # Escaped, here and in the ranking: DataTable reads a str as (Rich) markup, and names,
        # values and a damaged run's reason are the user's text.
        for run_id, label in zip(self.run_ids, self._labels()):
            table.add_column(markup.escape(label), key=run_id)
        for key, values in differing_keys(configs):
            table.add_row(key, *(markup.escape("?" if v is None else str(v)) for v in values), key=key)

    def redraw(self) -> None:
        labels = self._labels()
        legend = Content("  ").join(Content.assemble(("■", f"rgb({r},{g},{b})"), f" {label}")
                                    for i, label in enumerate(labels) for r, g, b in [color_of(i)])
        self.query_one("#legend", Static).update(legend)
        self._draw_ranking()
        s = self.settings
        smooth = s.strength if s.smoothing else None
        histories = [(label, self.app.state.history(run_id)) for label, run_id in zip(labels, self.run_ids)]
        charts = [(ident, metric, [line for i, (name, history) in enumerate(histories)
                                   for line in metric_series(history, metric, name, color_of(i), smooth, s.x_axis)])
                  for ident, _, metric in CHARTS]
        x_range = shared_x_range(drawn for _, _, drawn in charts)  # the runs side by side on one axis
        for ident, metric, drawn in charts:
            self.query_one(f"#{ident}", MetricChart).show(drawn, s.log_y and metric != "lr", x_range, s.x_axis)

    def _draw_ranking(self) -> None:
        # Ranking reads the runs' files: redo it only when these runs (not others) moved.
        state = self.app.state
        basis = (self.baseline, *((state.history(i).events, getattr(state.records.get(i), "status", None))
                                  for i in self.run_ids))
        if basis == self._ranked:
            return
        self._ranked = basis
        table = self.query_one("#ranking", DataTable)
        notes = self.query_one("#ranking-notes", Static)
        try:
            self.ranking = ranking_of(self.app.store, self.run_ids, self.baseline, self.baseline_choice)
        except ReportError as error:
            self.ranking = None
            notes.update(Content(f"No ranking: {error}"))
            return
        table.clear(columns=True)
        headers = cells.ranking_headers(self.ranking)
        order = _verdict_first(headers)
        table.add_columns(*(headers[i] for i in order))
        for row in cells.ranking_cells(self.ranking):
            table.add_row(*(markup.escape(row[i]) for i in order))
        notes.update(Content("\n".join([cells.scope(self.ranking), cells.sign_convention(self.ranking.metric),
                                        *self.ranking.notes, cells.method(self.ranking)])))

    # ---- keys ----------------------------------------------------------------------------
    def action_baseline(self) -> None:
        """Make the next marked run the baseline every Δ is measured against."""
        i = self.run_ids.index(self.baseline)
        self.baseline = self.run_ids[(i + 1) % len(self.run_ids)]
        self.baseline_choice = "chosen with b"
        self.notify(f"Baseline: {self.app.run_name(self.baseline)}", timeout=2)
        self.redraw_now()

    def settings_changed(self) -> None:
        self.query_one(TabbedContent).get_tab("tab-curves").label = settings_label(self.settings, "Curves")
        self.redraw_now()

    def action_export(self) -> None:
        if self.ranking is None:
            self.notify("Nothing to export: the runs have no ranking yet.", severity="warning")
            return
        ranking = self.ranking

        def write(answer: str | None) -> None:
            if not answer:
                return
            path = Path(answer).expanduser()
            try:
                export(ranking, path)
            except (OSError, ValueError) as error:
                self.notify(f"Export failed: {error}", severity="error")
                return
            self.notify(f"Wrote {path}")

        self.app.push_screen(Prompt("Export the ranking to (.md, .csv, .json or .html):",
                                    str(self.app.export_dir / "compare.md")), write)


def _verdict_first(headers: list[str]) -> list[int]:
    """Column order on screen: rank, run, then Δ, p and verdict -- the answer this screen
    exists for stays in view at 80 columns; the rest follows in the report's order (exports
    keep the report's order)."""
    front = [0, 1] + [i for i, header in enumerate(headers) if header.startswith("Δ") or header in ("p", "Verdict")]
    return front + [i for i in range(len(headers)) if i not in front]
