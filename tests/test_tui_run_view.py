"""The run view a person lives in: the numbers beside the charts, data preparation in
place of empty charts, `stopping…` after a stop, charts on one x range (steps, tokens or
time) with round ticks and legends off the data, remembered chart settings, expert load
over time, and the text samples. Hand-written runs (tui_fixtures) and, for a live run,
a stand-in engine process: no torch here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, TabbedContent

from engine.identity import identify
from engine.protocol import encode, make_event
from engine.rundir import EVENTS_FILE
from moetui.history import EXPERTS_KEPT, RunHistory
from moetui.runs import RunStore
from moetui.tui import chart_settings, create_app
from moetui.tui.chart_data import metric_series, shared_x_range, x_ticks, x_values
from moetui.tui.chart_settings import ChartSettings
from moetui.tui.expert_balance import dead, dominant, history_line
from moetui.tui.progress import preparing
from moetui.tui.run_figures import figures
from moetui.tui.screens.compare import CompareScreen
from moetui.tui.screens.run import RunScreen
from moetui.tui.ticks import linear_ticks, log_ticks, short
from moetui.tui.widgets.metric_chart import MetricChart
from moetui.tui.widgets.numbers_panel import NumbersPanel
from tests.tui_fixtures import T0, finished_run, quick_config
from tests.tui_pilot import scenario, until


def _write(run_dir: Path, *events: dict) -> None:
    with open(run_dir / EVENTS_FILE, "a") as f:
        f.writelines(encode(event) + "\n" for event in events)


def _event(kind: str, t: float = T0, **fields) -> dict:
    return {**make_event(kind, **fields), "t": t}


def _step(step: int, loss: float = 4.0, tokens_per_step: int = 2048) -> dict:
    return _event("step", T0 + step, step=step, loss=loss, aux_loss=0.01, lr=0.01, grad_norm=0.5,
                  tokens_per_s=1000.0, tokens=step * tokens_per_step, elapsed=float(step))


def _eval(step: int, val_loss: float = 4.0) -> dict:
    return _event("eval", T0 + step, step=step, val_loss=val_loss, val_accuracy=0.2, val_perplexity=2.7 ** val_loss)


def _start(step: int = 0, resumed: bool = False, max_steps: int = 60) -> dict:
    return _event("start", T0 + step, step=step, config=quick_config().to_dict(), params_total=1_000_000,
                  params_active=500_000, device="cpu", dtype="fp32", world_size=1, tokens_per_step=2048,
                  max_steps=max_steps, vocab_size=2048, resumed=resumed)


async def _open(pilot, run_id: str) -> RunScreen:
    app = pilot.app
    await until(pilot, lambda: run_id in app.state.records and app.state.history(run_id).events,
                what="the run's events")
    app.open_run(run_id)
    await until(pilot, lambda: isinstance(app.screen, RunScreen) and any(p.figures for p in app.screen.query(NumbersPanel)),
                what="the run view")
    return app.screen


def _numbers(screen: RunScreen) -> str:
    return str(screen.query_one(NumbersPanel).render())


@pytest.fixture
def stand_in_engine():
    """A process in the place of a live engine that is busy checkpointing: alive, in a session
    of its own, and deaf to SIGTERM until the test ends it."""
    process = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                                "signal.SIG_IGN); time.sleep(120)"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _running(store: RunStore, name: str, process) -> str:
    record = store.create(quick_config(), name=name, preset="quick")
    store.update(record.id, status="running", started=T0, **identify(process.pid).record())
    return record.id


# ---- pure pieces -------------------------------------------------------------------------

def test_ticks_are_round_numbers_with_short_labels():
    assert linear_ticks(3.21, 7.9) == [4, 5, 6, 7]
    assert linear_ticks(2048, 81920, 3) == [20_000, 40_000, 60_000, 80_000]  # one tick alone says nothing
    assert log_ticks(30, 300) == [50, 100, 200] and log_ticks(1e-5, 1) == [1e-5, 1e-3, 0.1]
    assert [short(v) for v in (0.05, 3.5, 250_000, 1.5e6, 2e-5)] == ["0.05", "3.5", "250k", "1.5M", "2e-05"]
    assert x_ticks("time", 0, 600, 3) == ([0, 300, 600], ["0s", "5:00", "10:00"])
    assert x_ticks("tokens", 0, 100_000, 3) == ([0, 50_000, 100_000], ["0", "50k", "100k"])


def test_evals_sit_on_the_tokens_and_time_axes_between_their_logged_steps():
    history = RunHistory()
    for event in (_start(), _step(10), _step(20), _eval(15), _eval(25)):
        history.add(event)
    assert x_values(history, history.eval_steps, "tokens") == [15 * 2048, 25 * 2048]  # past the last: its rate
    assert x_values(history, history.eval_steps, "time") == [15.0, 25.0]
    assert metric_series(history, "loss", "train", (0, 0, 0), None, "tokens")[0].xs == [10 * 2048, 20 * 2048]


def test_a_resumed_run_has_one_x_range_for_all_its_charts():
    """Bug 4: stopped at 53 after the eval at 50, resumed to 57: the perplexity chart's own
    range was 50-53 while the loss chart's was 1-57."""
    history = RunHistory()
    for event in (_start(), *map(_step, range(1, 54)), _eval(50), _eval(53), _start(53, resumed=True),
                  *map(_step, range(54, 58))):
        history.add(event)
    loss = metric_series(history, "loss", "train", (0, 0, 0))
    ppl = metric_series(history, "val_perplexity", "val", (0, 0, 0))
    assert (min(ppl[0].xs), max(ppl[0].xs)) == (50, 53)
    assert shared_x_range([loss, ppl]) == (1, 57)


def test_expert_load_is_kept_over_time_bounded_and_cut_back_on_resume():
    history = RunHistory()
    history.add(_start())
    for step in range(1, 2 * EXPERTS_KEPT + 2):
        history.add(_event("experts", step=step, load=[[step / 1000, 1 - step / 1000]]))
    assert len(history.experts_steps) <= EXPERTS_KEPT and history.experts_steps[0] == 1
    assert history.experts_step == 2 * EXPERTS_KEPT + 1  # the newest is always kept
    assert history.experts_loads[-1] == history.experts_load
    history.add(_start(100, resumed=True))
    assert history.experts_steps[-1] <= 100


def test_dead_and_dominant_experts_are_told_apart_from_a_fair_top_k_split():
    assert dead([0.5, 0.499, 0.001]) == [False, False, True]
    assert dominant([0.85, 0.05, 0.05, 0.05], top_k=1) == [True, False, False, False]
    assert dominant([0.3, 0.25, 0.25, 0.2], top_k=2) == [False] * 4  # top-2 of 4: each fairly sees half
    assert dominant([0.5, 0.2, 0.1, 0.1, 0.05, 0.05], top_k=2) == [True] + [False] * 5
    assert history_line([0.0, 0.25, 0.5], experts=4, width=10) == "▁▅█"  # fair share: half height
    assert history_line([0.5] * 50 + [0.0], experts=4, width=5) == "████▁"  # the newest always last


def test_preparing_is_a_prepare_event_newer_than_the_last_start():
    read = {"stage": "tokenize", "t": 5.0}
    assert preparing(None, read) and not preparing({"t": 6.0}, read) and preparing({"t": 1.0}, read)
    assert not preparing(None, {"stage": "ready", "t": 5.0}) and not preparing(None, None)


def test_chart_settings_survive_a_restart_and_a_bad_file_gives_the_defaults(tmp_path):
    path = tmp_path / "moetui" / "charts.toml"
    assert chart_settings.save(ChartSettings(log_y=True, x_axis="time", strength=0.98), path)
    assert chart_settings.load(path) == ChartSettings(log_y=True, x_axis="time", strength=0.98)
    path.write_text('x_axis = "sideways"\nlog_y = true\nstrength = "strong"\n')
    assert chart_settings.load(path) == ChartSettings(log_y=True)
    path.write_text("not [toml")
    assert chart_settings.load(path) == ChartSettings()
    (tmp_path / "file").write_text("")
    assert not chart_settings.save(ChartSettings(), tmp_path / "file" / "charts.toml")  # cannot be written


def test_the_numbers_say_stopping_while_the_engine_checkpoints():
    history = RunHistory()
    for event in (_start(), _step(30), _eval(30, 4.25)):
        history.add(event)

    class Record:
        name, status, device, exit_reason = "r", "stopping", "cpu", None

    shown = {f.label: f.value for f in figures(Record(), history)}
    assert shown[""] == "stopping…" and shown["step"] == "30/60" and shown["val loss"] == "4.25"


# ---- stories -----------------------------------------------------------------------------

@scenario
async def test_a_finished_run_shows_every_number_and_its_charts_share_one_x_range(runs_dir):
    store = RunStore(runs_dir)
    run_id = finished_run(store, "baseline", quick_config(), 4.40)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, run_id)
        await pilot.pause(0.2)
        numbers = _numbers(screen)
        for shown in ("baseline", "completed", "step 40/40", "loss 4.45", "val loss 4.4", "ppl 81.45", "acc 19.0%",
                      "tok/s 12.4k", "lr 0.05", "grad 1", "aux 0.01", "tokens 81.9k", "elapsed 40s"):
            assert shown in numbers, shown
        charts = list(screen.query(MetricChart))
        assert [c.id for c in charts] == ["chart-loss", "chart-ppl", "chart-lr", "chart-tps", "chart-grad",
                                          "chart-aux"]
        assert {c.x_range for c in charts} == {(1, 40)}  # evals start at 10, and still share 1-40


@scenario
async def test_x_axis_log_scale_and_smoothing_are_remembered_across_runs_and_restarts(runs_dir):
    store = RunStore(runs_dir)
    first = finished_run(store, "first", quick_config(), 4.40)
    second = finished_run(store, "second", quick_config(), 4.60, created=T0 + 100)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, first)
        tabs = [str(tab.label) for tab in screen.query_one(TabbedContent).query("ContentTab")]
        assert "Log" not in tabs and "Engine" in tabs  # `l` is the log scale; no tab of that name
        await pilot.press("a")  # steps -> tokens
        await pilot.pause(0.2)
        loss = screen.query_one("#chart-loss", MetricChart)
        assert loss.x_axis == "tokens" and loss.x_range == (2048, 40 * 2048)
        assert str(loss.render()).splitlines()[-1].split() == ["20k", "40k", "60k", "80k"]
        await pilot.press("a", "l", "minus")  # -> time, log y, EMA 0.8
        await pilot.pause(0.2)
        assert "Charts · x time · EMA 0.8 · log y" in tabs_label(screen)
        await pilot.press("escape")
        screen = await _open(pilot, second)
        assert (screen.query_one("#chart-loss", MetricChart).x_axis, screen.query_one("#chart-loss").log_y) == (
            "time", True)
    again = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with again.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, first)
        await pilot.pause(0.2)
        assert "Charts · x time · EMA 0.8 · log y" in tabs_label(screen)


def tabs_label(screen: RunScreen) -> str:
    return str(screen.query_one(TabbedContent).get_tab("tab-charts").label)


@scenario
async def test_a_short_runs_only_val_point_is_not_hidden_by_the_legend_in_compare(runs_dir):
    """Bug 5: a 10-step run beside 100- and 150-step runs: its one eval (the highest loss, at
    the far left) sat under plotext's legend in the chart's top-left corner."""
    store = RunStore(runs_dir)
    ids = [finished_run(store, "short", quick_config(), 9.0, steps=10),
           finished_run(store, "long", quick_config(), 4.4, steps=100, created=T0 + 100),
           finished_run(store, "longer", quick_config(), 4.2, steps=150, created=T0 + 200)]
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await until(pilot, lambda: table.row_count == 3, what="the runs table")
        for run_id in ids:
            table.move_cursor(row=table.get_row_index(run_id))
            await pilot.press("m")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        await pilot.click("#--content-tab-tab-curves")
        val = app.screen.query_one("#cmp-val", MetricChart)
        await until(pilot, lambda: len(val.series) == 3 and val.size.width, what="the val curves")
        header, *plot = str(val.render()).splitlines()
    assert "val loss ━ short ━ long" in header  # the legend: a line of its own
    (marked,) = [line for line in plot if "●" in line]  # the short run's one point, and no legend's mark
    area = re.split(r"[┤│]", marked, maxsplit=1)[1]  # the plot, right of the y axis
    assert area.index("●") < len(area) / 10  # near the left: step 10 of the shared range 1-150


@scenario
async def test_compare_draws_with_the_remembered_chart_settings_on_one_x_range_and_its_keys_are_remembered(runs_dir):
    store = RunStore(runs_dir)
    ids = [finished_run(store, "short", quick_config(), 9.0, steps=10),
           finished_run(store, "long", quick_config(), 4.4, steps=40, created=T0 + 100)]
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, ids[1])
        await pilot.press("l")  # log y in the run view ...
        await pilot.press("escape")
        table = app.screen.query_one("#runs", DataTable)
        for run_id in ids:
            table.move_cursor(row=table.get_row_index(run_id))
            await pilot.press("m")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        screen = app.screen
        charts = [screen.query_one(f"#{ident}", MetricChart) for ident in ("cmp-loss", "cmp-val", "cmp-ppl")]
        await until(pilot, lambda: all(len(c.series) == 4 for c in charts[:1]), what="the curves")
        assert all(c.log_y for c in charts)  # ... is the comparison's too
        await pilot.press("a")  # steps -> tokens, here as in the run view
        await until(pilot, lambda: charts[0].x_axis == "tokens", what="the tokens axis")
        assert {c.x_range for c in charts} == {(2048, 40 * 2048)}  # one range: the short run's first eval included
        label = str(screen.query_one(TabbedContent).get_tab("tab-curves").label)
        assert label == "Curves · x tokens · EMA 0.9 · log y"
        await pilot.press("escape")
        screen = await _open(pilot, ids[0])
        assert screen.query_one("#chart-loss", MetricChart).x_axis == "tokens"


@scenario
async def test_data_preparation_shows_instead_of_empty_charts_and_a_stop_shows_stopping(runs_dir, stand_in_engine):
    store = RunStore(runs_dir)
    run_id = _running(store, "hub-data", stand_in_engine)
    run_dir = store.path(run_id)
    _write(run_dir, _event("prepare", stage="tokenize", done=1200, total=5000, message="reading hf:corpus"))
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, run_id)
        prepare = screen.query_one("#prepare")
        await until(pilot, lambda: prepare.display, what="the preparation panel")
        assert not screen.query_one("#charts").display
        assert "tokenising documents  1,200/5,000" in str(prepare.render()) and "24%" in str(prepare.render())
        _write(run_dir, _event("prepare", T0 + 1, stage="ready", done=1, total=1), _start(), _step(1))
        await until(pilot, lambda: screen.query_one("#charts").display, what="the charts, once training starts")
        assert not prepare.display and "running" in _numbers(screen)

        await pilot.press("x")
        await pilot.press("y")  # confirm: SIGTERM, which the stand-in (checkpointing) does not end on
        await until(pilot, lambda: "stopping…" in _numbers(screen), what="stopping…")
        store.update(run_id, status="stopped")  # as the engine does once its checkpoint is written
        await until(pilot, lambda: "stopped" in _numbers(screen) and "stopping" not in _numbers(screen),
                    what="stopped")


@scenario
async def test_the_samples_tab_shows_the_text_of_each_eval_newest_first(runs_dir):
    store = RunStore(runs_dir)
    run_id = finished_run(store, "writer", quick_config(**{"eval.sample_prompts": "The cat|A dog"}), 4.4, steps=20)
    samples = [_event("sample", step=step, samples=[{"prompt": "The cat", "text": f" sat at step {step}"},
                                                    {"prompt": "A dog", "text": " \x1b[2Jbarked"}])
               for step in (10, 20)]
    _write(store.path(run_id), *samples)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(pilot, run_id)
        await pilot.click("#--content-tab-tab-samples")
        await pilot.pause(0.2)
        text = str(screen.query_one("#samples").render())
    assert text.index("step 20") < text.index("step 10")
    assert "The cat sat at step 20" in text and "A dog �[2Jbarked" in text  # no escape reaches the terminal
