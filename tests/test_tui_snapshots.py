"""Snapshots of the main screens at 80x24 over a hand-written store (fixed times and
values, see tui_fixtures). Update after an intended change with `--snapshot-update`."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.widgets.hardware_panel import HardwarePanel
from moetui.tui.widgets.metric_chart import MetricChart
from tests.tui_fixtures import fixed_sample, fixed_store
from tests.tui_pilot import until


@pytest.fixture
def fixed(runs_dir):
    store = RunStore(runs_dir)
    ids = fixed_store(store)
    # A long interval: the screen is drawn from the first scan and nothing moves afterwards.
    # The hardware panels show a fixed two-GPU host, not this machine.
    return create_app(store, scan_interval=0.1, redraw_interval=0.1, sampler=fixed_sample), ids


async def _runs_table(pilot) -> DataTable:
    table = pilot.app.screen.query_one("#runs", DataTable)
    await until(pilot, lambda: table.row_count == 5, what="the runs table")
    await _hardware_panel(pilot)
    await pilot.pause(0.3)
    return table


async def _hardware_panel(pilot) -> None:
    await until(pilot, lambda: pilot.app.screen.query_one(HardwarePanel).display, what="the hardware panel")


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_runs_screen(snap_compare, fixed, theme):
    app, _ = fixed
    app.theme = theme
    assert snap_compare(app, run_before=_runs_table)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_run_screen(snap_compare, fixed, size):
    """The numbers beside six charts on one x range, round ticks, legends above the plots."""
    app, ids = fixed

    async def open_run(pilot):
        await _runs_table(pilot)
        app.open_run(ids["baseline"])
        await pilot.pause(0.2)
        chart = app.screen.query_one("#chart-aux", MetricChart)
        await until(pilot, lambda: chart.series, what="the charts")
        await pilot.pause(0.3)

    assert snap_compare(app, run_before=open_run, terminal_size=size)


def test_compare_screen(snap_compare, fixed):
    app, ids = fixed

    async def compare(pilot):
        table = await _runs_table(pilot)
        for run_id in (ids["baseline"], ids["topk1"], ids["lr-high"]):
            table.move_cursor(row=table.get_row_index(run_id))
            await pilot.press("m")
        await pilot.press("c")
        await pilot.pause(0.5)

    assert snap_compare(app, run_before=compare)


def test_launch_screen_with_an_invalid_and_a_changed_field(snap_compare, fixed, monkeypatch):
    app, _ = fixed
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the time per step is guessed for a CPU on any machine

    async def edit(pilot):
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.screen.query("#edit-model-n_heads"), what="the form")
        app.screen.query_one("#edit-model-n_heads", Input).value = "5"
        app.screen.query_one("#edit-model-d_ff", Input).value = "512"
        app.screen.query_one("#presets").focus()
        await pilot.pause(0.3)

    assert snap_compare(app, run_before=edit)


def test_queue_screen(snap_compare, fixed):
    app, _ = fixed

    async def queue(pilot):
        await _runs_table(pilot)
        await pilot.press("ctrl+t")
        await _hardware_panel(pilot)
        await pilot.pause(0.3)

    assert snap_compare(app, run_before=queue)
