"""Stories against the real engine on the `quick` preset: a run launched from the form
streams into the chart and the table, outlives the TUI, shows up live in the next one
and stops from its table; a run started outside the TUI appears live."""

from __future__ import annotations

import os
import time

from textual.widgets import DataTable

from moetui import launcher
from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.run import RunScreen
from moetui.tui.widgets.metric_chart import MetricChart
from tests.tui_fixtures import quick_config
from tests.tui_pilot import fill_form, scenario, until

FAST = {"eval.eval_every": 5, "eval.eval_steps": 2, "train.batch_size": 4, "model.max_seq_len": 64}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@scenario
async def test_a_run_launched_from_the_form_streams_outlives_the_tui_and_stops_from_the_table(runs_dir, token_cache_dir):
    store = RunStore(runs_dir)
    app = create_app(store, scan_interval=0.2, redraw_interval=0.2)
    run_id = None
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+n")
            await fill_form(pilot, {**FAST, "train.max_steps": 5000, "data.cache_dir": token_cache_dir})
            await pilot.press("ctrl+l")
            await until(pilot, lambda: app.processes, what="the engine to start")
            (run_id,) = app.processes
            await until(pilot, lambda: len(app.state.history(run_id).steps) >= 3, timeout=120,
                        what="step events over the pipe")
            table = app.screen.query_one("#runs", DataTable)
            await until(pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[4]).endswith("/5000"),
                        what="the step in the runs table")
            assert table.get_row_at(0)[3].plain == "running"
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run view")
            chart = app.screen.query_one("#chart-loss", MetricChart)
            await until(pilot, lambda: chart.series and len(chart.series[0].xs) >= 3, what="steps in the chart")
            assert app.state.history(run_id).max_steps == 5000
            await pilot.press("ctrl+q")

        record = store.get(run_id)
        assert record.status == "running" and _alive(record.pid)  # quitting did not stop it
        events = store.path(run_id) / "events.jsonl"
        size = events.stat().st_size
        _wait_for(lambda: events.stat().st_size > size, 30, "the engine to keep writing after the TUI quit")

        again = create_app(store, scan_interval=0.2, redraw_interval=0.2)
        async with again.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: again.state.history(run_id).steps, what="the running run in a new TUI")
            seen = again.state.history(run_id).last_step
            await until(pilot, lambda: again.state.history(run_id).last_step > seen, what="live steps from the file")
            assert run_id not in again.processes  # followed through events.jsonl, not a pipe
            table = again.screen.query_one("#runs", DataTable)
            await until(pilot, lambda: table.row_count == 1, what="the runs table")
            await pilot.press("x")
            await pilot.press("y")
            await until(pilot, lambda: again.state.records[run_id].status == "stopped", timeout=60,
                        what="the stopped status")
            assert again.state.history(run_id).status_from_events == "stopped"
    finally:
        if run_id is not None and store.get(run_id).status == "running":
            launcher.stop(store, run_id)


@scenario
async def test_a_run_started_outside_the_tui_appears_live(runs_dir, token_cache_dir):
    store = RunStore(runs_dir)
    config = quick_config(**FAST, **{"train.max_steps": 60, "data.cache_dir": token_cache_dir})
    app = create_app(store, scan_interval=0.2, redraw_interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        record = store.create(config, name="from-cli", preset="quick")
        process = launcher.launch(store, record.id)  # what `moetui run` does
        process.stdout.close()  # the CLI went away; the engine keeps training
        seen_while_running = set()

        def completed() -> bool:
            record_now = app.state.records.get(record.id)
            if record_now is not None and record_now.status == "running":
                seen_while_running.add(app.state.history(record.id).last_step)
            return record_now is not None and record_now.status == "completed"

        await until(pilot, completed, timeout=120, what="the run to complete")
        assert len(seen_while_running - {0, 60}) >= 2  # seen part way, at several steps: live
        table = app.screen.query_one("#runs", DataTable)
        await until(pilot, lambda: table.row_count == 1 and table.get_row_at(0)[4] == "60/60", what="final step")
        process.wait(timeout=30)
