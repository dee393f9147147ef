"""One run: its numbers at a glance, live charts on one shared x axis (steps, tokens or
time), expert load over time, text samples, the engine log and the resolved config.

Chart settings (smoothing, log scale, x axis) are the app's, so the next run opened shows
the same, and they are saved for the next TUI (chart_settings)."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Log, Static, TabbedContent, TabPane

from engine.config import Config
from engine.rundir import LOG_FILE
from moetui.history import RunHistory
from moetui.report.run_config import read_run_config
from moetui.tui.chart_data import Series, color_of, metric_series, shared_x_range
from moetui.tui.log_tail import tail_lines
from moetui.tui.progress import preparing
from moetui.tui.run_figures import figures
from moetui.tui.screens.chart_keys import CHART_BINDINGS, ChartKeys, settings_label
from moetui.tui.screens.live import LiveScreen
from moetui.tui.widgets.expert_load import ExpertLoad
from moetui.tui.widgets.metric_chart import MetricChart
from moetui.tui.widgets.numbers_panel import NumbersPanel
from moetui.tui.widgets.prepare_panel import PreparePanel
from moetui.tui.widgets.run_hardware import RunHardware
from moetui.tui.widgets.samples_view import SamplesView

# (id, title, what an empty chart says)
CHARTS = (("chart-loss", "loss", "no step yet"), ("chart-ppl", "val perplexity", "no eval yet"),
          ("chart-lr", "learning rate", "no step yet"), ("chart-tps", "tokens/s", "no step yet"),
          ("chart-grad", "grad norm", "no step yet"), ("chart-aux", "aux (balance) loss", "no step yet"))


class RunScreen(ChartKeys, LiveScreen):
    CSS_PATH = ["run.tcss", "../widgets/run_hardware.tcss"]
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        *CHART_BINDINGS,
        Binding("x", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("n", "continue", "Continue", show=False),
        Binding("C", "clone", "Clone into the launch form", show=False),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.config: Config | None = None  # read on mount, from config.toml
        self._log_size = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield NumbersPanel(id="run-summary")
        yield RunHardware(self.run_id)
        with TabbedContent():
            with TabPane(settings_label(self.settings), id="tab-charts"):
                yield PreparePanel(id="prepare")
                with Grid(id="charts"):
                    for ident, title, empty in CHARTS:
                        yield MetricChart(title, id=ident, empty=empty)
            with TabPane("Experts", id="tab-experts"):
                with VerticalScroll():
                    yield ExpertLoad(id="experts")
            with TabPane("Samples", id="tab-samples"):
                with VerticalScroll():
                    yield SamplesView(id="samples")
            # Not "Log": `l` is the log scale's key, and a tab named Log read as its key.
            with TabPane("Engine", id="tab-log"):
                yield Log(id="log", auto_scroll=True)
            with TabPane("Config", id="tab-config"):
                with VerticalScroll():
                    yield Static(id="config")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.config, problem = read_run_config(self.app.store.path(self.run_id))
        self.query_one("#config", Static).update(
            Content(f"Config unreadable: {problem}") if self.config is None
            else Syntax(self.config.to_toml(), "toml", background_color="default"))

    def redraw(self) -> None:
        record = self.app.state.records.get(self.run_id)
        history = self.app.state.history(self.run_id)
        self.title = record.name if record else self.run_id
        self.query_one(NumbersPanel).show(figures(record, history))
        now_preparing = preparing(history.start, history.prepare)
        self.query_one(PreparePanel).display = now_preparing
        self.query_one("#charts").display = not now_preparing
        if now_preparing:
            self.query_one(PreparePanel).show(history.prepare)
        else:
            self._draw_charts(history)
        config = self.config or Config()
        self.query_one(ExpertLoad).show(history.experts_steps, history.experts_loads, config.moe.top_k)
        self.query_one(SamplesView).show(history.sample_steps, history.samples, bool(config.eval.sample_prompts))
        self._draw_log()

    def _draw_charts(self, history: RunHistory) -> None:
        s = self.settings
        smooth = s.strength if s.smoothing else None

        def series(metric: str, label: str = "", hue: int = 0) -> list[Series]:
            return metric_series(history, metric, label, color_of(hue), smooth, s.x_axis)

        # (chart id, its series, whether the log-scale key applies to it); val in the second hue
        charts = (("chart-loss", series("loss", "train") + series("val_loss", "val", 1), True),
                  ("chart-ppl", series("val_perplexity", hue=1), True),
                  ("chart-lr", series("lr"), False),
                  ("chart-tps", series("tokens_per_s"), False),
                  ("chart-grad", series("grad_norm"), True),
                  ("chart-aux", series("aux_loss"), False))
        x_range = shared_x_range(drawn for _, drawn, _ in charts)
        for ident, drawn, scalable in charts:
            self.query_one(f"#{ident}", MetricChart).show(drawn, s.log_y and scalable, x_range, s.x_axis)

    def _draw_log(self) -> None:
        path = self.app.store.path(self.run_id) / LOG_FILE
        size = path.stat().st_size if path.exists() else 0
        if size == self._log_size:
            return
        self._log_size = size
        log = self.query_one(Log)
        log.clear()
        log.write_lines(tail_lines(path))

    # ---- keys ----------------------------------------------------------------------------
    def settings_changed(self) -> None:
        self.query_one(TabbedContent).get_tab("tab-charts").label = settings_label(self.settings)
        self.redraw_now()

    def action_stop(self) -> None:
        self.app.confirm_stop(self.run_id)

    def action_resume(self) -> None:
        self.app.resume_run(self.run_id)

    def action_continue(self) -> None:
        self.app.continue_run(self.run_id)

    async def action_clone(self) -> None:
        await self.app.clone_run(self.run_id)
