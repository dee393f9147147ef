"""The queue from the TUI: a study queued from the launch form on another base preset
runs through the scheduler with the real engine; waiting runs reorder and cancel."""

from __future__ import annotations

import os

from textual.widgets import DataTable, Input, OptionList, Select

from engine.identity import identify
from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.prompt import Prompt
from moetui.tui.screens.queue import QueueScreen
from moetui.tui.screens.study_preview import StudyPreviewScreen
from tests.cli_helpers import wait_for
from tests.test_tui_live import FAST
from tests.tui_fixtures import fixed_store
from tests.tui_pilot import fill_form, scenario, until


@scenario
async def test_a_study_queued_from_the_form_on_quick_runs_every_variant(runs_dir, token_cache_dir):
    store = RunStore(runs_dir)
    app = create_app(store, scan_interval=0.2, redraw_interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.screen.query("#edit-train-max_steps"), what="the launch form")
        options = app.screen.query_one("#presets", OptionList)
        options.highlighted = [options.get_option_at_index(i).id for i in range(options.option_count)].index(
            "study:lr-schedule")
        await pilot.press("enter")
        picker = app.screen.query_one("#study-base", Select)
        await until(pilot, lambda: picker.display and picker.value == "ablation-winner", what="the study's base")
        picker.value = "quick"  # as picking it from the list does
        await until(pilot, lambda: app.screen.query_one("#edit-model-d_model", Input).value == "128",
                    what="the quick preset in the form")
        await fill_form(pilot, {**FAST, "train.max_steps": 3, "data.cache_dir": token_cache_dir})
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, Prompt), what="the seeds prompt")
        assert app.screen.query_one("#answer", Input).value == "42"  # the study's own seeds
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, StudyPreviewScreen) and app.screen.ready,
                    what="the study's preview")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, QueueScreen), what="the queue")

    runs = [r for r in store.list() if r.study == "lr-schedule"]
    assert [r.variant for r in runs] == ["baseline", "cosine_warmup_05", "cosine_no_warmup"]
    assert all(r.preset == "quick" and r.seed == 42 for r in runs)
    assert store.config(runs[2].id).schedule.warmup_ratio == 0 and store.config(runs[0].id).train.max_steps == 3
    done = [wait_for(store, r.id, ("completed", "failed", "crashed"), timeout=150) for r in runs]
    assert [r.status for r in done] == ["completed"] * 3, [r.exit_reason for r in done]


@scenario
async def test_waiting_runs_move_up_and_cancel_from_the_queue(runs_dir):
    store = RunStore(runs_dir)
    ids = fixed_store(store)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+t")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2, what="the two waiting runs")
        assert [table.get_row_at(i)[1] for i in range(2)] == ["experts-8", "experts-16"]
        table.move_cursor(row=1)
        await pilot.press("K")
        await until(pilot, lambda: table.get_row_at(0)[1] == "experts-16", what="experts-16 on top")
        assert [r.id for r in store.queued()] == [ids["q2"], ids["q1"]]  # the order the scheduler will use
        table.move_cursor(row=1)
        await pilot.press("x")
        await pilot.press("y")
        await until(pilot, lambda: table.row_count == 1, what="the cancelled run to leave the queue")
    cancelled = store.get(ids["q1"])
    assert cancelled.status == "cancelled" and "off the queue" in cancelled.exit_reason
    assert [r.id for r in store.queued()] == [ids["q2"]]


@scenario
async def test_moving_the_top_waiting_run_up_keeps_the_cursor_off_the_running_run(runs_dir):
    store = RunStore(runs_dir)
    ids = fixed_store(store)
    # A run on a device sits above the waiting ones; this process stands in for its engine.
    store.update(ids["baseline"], status="running", **identify(os.getpid()).record())
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+t")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 3, what="one running and two waiting runs")
        table.move_cursor(row=2)
        await pilot.press("K", "K", "K")  # up to the top of the queue, then against its end
        await until(pilot, lambda: table.get_row_at(1)[1] == "experts-16", what="experts-16 first in line")
        assert table.cursor_row == 1  # still on experts-16: `x` now would not stop the running run
        await pilot.press("J")
        await until(pilot, lambda: table.get_row_at(2)[1] == "experts-16", what="experts-16 back down")
        assert table.cursor_row == 2
