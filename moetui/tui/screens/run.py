"""One run: live charts, expert load, the engine log and the resolved config."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Log, Static, TabbedContent, TabPane

from engine.rundir import LOG_FILE
from moetui.report.cells import count
from moetui.report.run_config import read_run_config
from moetui.tui.chart_data import color_of, metric_series
from moetui.tui.log_tail import tail_lines
from moetui.tui.progress import clock
from moetui.tui.screens.live import LiveScreen
from moetui.tui.widgets.expert_load import ExpertLoad
from moetui.tui.widgets.metric_chart import MetricChart
from moetui.tui.widgets.run_hardware import RunHardware

_STRENGTH = Binding.Group("EMA")  # short words: the footer must hold every key at 80 columns
STRENGTHS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
# (id, title, what an empty chart says)
CHARTS = (("chart-loss", "loss (train, val)", "no step yet"), ("chart-ppl", "val perplexity", "no eval yet"),
          ("chart-lr", "learning rate", "no step yet"), ("chart-tps", "tokens/s", "no step yet"))


class RunScreen(LiveScreen):
    CSS_PATH = ["run.tcss", "../widgets/run_hardware.tcss"]
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("s", "smoothing", "Smooth"),
        Binding("plus,equals_sign", "strength(1)", "Smoother", group=_STRENGTH),
        Binding("minus", "strength(-1)", "Rougher", group=_STRENGTH),
        Binding("l", "log_scale", "Log"),
        Binding("x", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("n", "continue", "Continue", show=False),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.smoothing = True
        self.strength = 0.9
        self.log_y = False
        self._log_size = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-summary")
        yield RunHardware(self.run_id)
        with TabbedContent():
            with TabPane("Charts", id="tab-charts"):
                with Grid(id="charts"):
                    for ident, title, empty in CHARTS:
                        yield MetricChart(title, id=ident, empty=empty)
            with TabPane("Experts", id="tab-experts"):
                with VerticalScroll():
                    yield ExpertLoad(id="experts")
            with TabPane("Log", id="tab-log"):
                yield Log(id="log", auto_scroll=True)
            with TabPane("Config", id="tab-config"):
                with VerticalScroll():
                    yield Static(id="config")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#config", Static).update(self._config_text())

    def _config_text(self) -> Syntax | Content:
        config, problem = read_run_config(self.app.store.path(self.run_id))
        if config is None:
            return Content(f"Config unreadable: {problem}")
        return Syntax(config.to_toml(), "toml", background_color="default")

    def redraw(self) -> None:
        record = self.app.state.records.get(self.run_id)
        history = self.app.state.history(self.run_id)
        name = record.name if record else self.run_id
        self.title = name
        status = record.status if record else "deleted"
        device = (history.start or {}).get("device") or (record.device if record else None) or "–"
        step = f"{history.last_step}/{history.max_steps}" if history.max_steps else str(history.last_step)
        smoothing = f"EMA {self.strength:g}" if self.smoothing else "off"
        damaged = f"\n{record.exit_reason or ''}" if record and record.damaged else ""
        self.query_one("#run-summary", Static).update(Content.assemble(  # not markup: names are the user's text
            (name, "bold"), f"  {status}  step {step}  elapsed {clock(history.wall_time)}  device {device}  "
            f"params {count(history.params_total)} ({count(history.params_active)} active)  "
            f"smoothing {smoothing}{damaged}"))
        self._draw_charts(history)
        self.query_one(ExpertLoad).show(history.experts_step, history.experts_load)
        self._draw_log()

    def _draw_charts(self, history) -> None:
        smooth = self.strength if self.smoothing else None
        train, val = color_of(0), color_of(1)
        self.query_one("#chart-loss", MetricChart).show(
            metric_series(history, "loss", "train", train, smooth) + metric_series(history, "val_loss", "val", val),
            self.log_y)
        self.query_one("#chart-ppl", MetricChart).show(metric_series(history, "val_perplexity", "val", val), self.log_y)
        self.query_one("#chart-lr", MetricChart).show(metric_series(history, "lr", "lr", train))
        self.query_one("#chart-tps", MetricChart).show(metric_series(history, "tokens_per_s", "tok/s", train, smooth))

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
    def action_smoothing(self) -> None:
        self.smoothing = not self.smoothing
        self.redraw_now()

    def action_strength(self, direction: int) -> None:
        i = STRENGTHS.index(self.strength) + direction
        self.strength = STRENGTHS[max(0, min(len(STRENGTHS) - 1, i))]
        self.smoothing = True
        self.redraw_now()

    def action_log_scale(self) -> None:
        self.log_y = not self.log_y
        self.redraw_now()

    def action_stop(self) -> None:
        self.app.confirm_stop(self.run_id)

    def action_resume(self) -> None:
        self.app.resume_run(self.run_id)

    def action_continue(self) -> None:
        self.app.continue_run(self.run_id)
