"""The usual keys: ? / F1 help, q / escape back, j k g G in every table, enter on a queue row,
runs and presets from the command palette, F-keys for browsers, val loss and ppl at 80
columns; and the run lifecycle keys: n continues a finished run, r on a completed run
offers to."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input, Static

from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.compare import CompareScreen
from moetui.tui.screens.help import HelpScreen
from moetui.tui.screens.launch import LaunchScreen
from moetui.tui.screens.prompt import Prompt
from moetui.tui.screens.queue import QueueScreen
from moetui.tui.screens.run import RunScreen
from moetui.tui.screens.runs import RunsScreen
from moetui.tui.widgets.tables import Table
from tests.cli_helpers import wait_for
from tests.engine_helpers import quick_config as tiny_config
from tests.tui_fixtures import finished_run, fixed_store, quick_config
from tests.tui_pilot import scenario, until


def _app(store):
    return create_app(store, scan_interval=0.1, redraw_interval=0.1)


async def _runs_table(pilot, rows: int) -> DataTable:
    table = pilot.app.screen.query_one("#runs", DataTable)
    await until(pilot, lambda: table.row_count == rows, what="the runs table")
    return table


def _first_command(app) -> str | None:
    """The palette's highlighted (first) command, the one enter runs."""
    if not isinstance(app.screen, CommandPalette):
        return None
    commands = app.screen.query_one(CommandList)
    return str(commands.get_option_at_index(0).prompt).splitlines()[0] if commands.option_count else None


def _help_text(app) -> str:
    return str(app.screen.query_one("#help-keys", Static).render())


@scenario
async def test_help_lists_every_key_of_the_screen_on_show_and_closes_with_q(runs_dir):
    fixed_store(RunStore(runs_dir))
    app = _app(RunStore(runs_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await _runs_table(pilot, 5)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        text = _help_text(app)
        for shown in ("This screen", "Continue", "Delete", "^n f3", "^t f4", "Table", "↓ j", "home ^home g",
                      "Everywhere", "^q f10"):
            assert shown in text, shown  # delete and continue are off the footer, not out of reach
        await pilot.press("q")
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("f4", "f1")  # the queue's own keys, this time
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the queue's help")
        assert "Move up" in _help_text(app) and "Mark" not in _help_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)


@scenario
async def test_j_k_g_and_G_move_through_every_table_and_q_or_escape_go_back(runs_dir):
    ids = fixed_store(RunStore(runs_dir))
    app = _app(RunStore(runs_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        table = await _runs_table(pilot, 5)
        await pilot.press("G")
        assert table.cursor_row == 4
        await pilot.press("g", "j", "j", "k")
        assert table.cursor_row == 1
        await pilot.press("end", "home")
        assert table.cursor_row == 0
        for run_id in (ids["baseline"], ids["topk1"]):
            table.move_cursor(row=table.get_row_index(run_id))
            await pilot.press("m")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        tables = list(app.screen.query(DataTable))
        assert len(tables) == 2 and all(isinstance(t, Table) for t in tables)
        await pilot.press("q")
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run view")
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)

        await pilot.press("ctrl+t")  # the queue: the same keys, and enter opens the run
        queue = app.screen.query_one("#queue", DataTable)
        await until(pilot, lambda: queue.row_count == 2, what="the queue")
        assert isinstance(queue, Table)
        await pilot.press("G")
        assert queue.cursor_row == 1
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the queued run's view")
        assert app.screen.run_id == ids["q2"]
        await pilot.press("q")
        assert isinstance(app.screen, QueueScreen)


@scenario
async def test_from_a_browser_the_f_keys_and_the_palette_reach_every_screen_run_and_preset(runs_dir):
    """ctrl+n, ctrl+t and ctrl+q are the browser's (`moetui serve`): F3, F4 and F10 do their job."""
    ids = fixed_store(RunStore(runs_dir))
    app = _app(RunStore(runs_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await _runs_table(pilot, 5)
        await pilot.press("ctrl+p", *"preset baseline")
        await until(pilot, lambda: _first_command(app) == "Launch preset baseline", what="the preset command")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.source == ("preset", "baseline"),
                    what="the launch form on baseline")
        assert app.screen.query_one("#edit-model-d_model", Input).value == "384"
        await pilot.press("f4")  # from the form, focus in its preset list
        await until(pilot, lambda: isinstance(app.screen, QueueScreen), what="the queue")
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen), what="the runs")

        await pilot.press("ctrl+p", *"lr-high")
        await until(pilot, lambda: _first_command(app) == "Open run lr-high", what="the run among the commands")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run view")
        assert app.screen.run_id == ids["lr-high"]
        await pilot.press("f10")
        await until(pilot, lambda: not app.is_running, what="the app to quit")


@scenario
async def test_at_80_columns_the_runs_table_keeps_val_loss_and_ppl_in_view(runs_dir):
    store = RunStore(runs_dir)
    for i, variant in enumerate(("cosine_warmup_05", "cosine_no_warmup")):
        finished_run(store, f"lr-schedule-{variant}-s1234", quick_config(), 4.4 + i, steps=1500,
                     study="lr-schedule", variant=variant)
    app = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _runs_table(pilot, 2)
        await pilot.pause(0.2)
        keys = [column.key.value for column in table.ordered_columns]
        assert "group" not in keys  # the name holds study and variant
        right = sum(column.get_render_width(table) for column in table.ordered_columns[:keys.index("ppl") + 1])
        assert right <= table.scrollable_content_region.width
        sorts = []
        for _ in range(len(keys)):  # `s` cycles through the columns on screen, then back to none
            await pilot.press("s")
            sorts.append(app.screen.sort)
        assert sorts == [*keys[1:], None]  # no study/variant, no tags/notes: nothing sorted out of sight
        await pilot.resize_terminal(120, 30)
        await until(pilot, lambda: "group" in [c.key.value for c in table.ordered_columns],
                    what="study/variant back at 120 columns")
        await pilot.press("s", "s")
        assert app.screen.sort == "group"


@scenario
async def test_n_on_a_run_that_did_not_finish_well_says_what_it_can_do(runs_dir):
    ids = fixed_store(RunStore(runs_dir))
    app = _app(RunStore(runs_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        table = await _runs_table(pilot, 5)
        table.move_cursor(row=table.get_row_index(ids["lr-high"]))  # diverged
        await pilot.press("n")
        assert any("only a completed or stopped run can be continued (r resumes it)" in n.message
                   for n in app._notifications)
        table.move_cursor(row=table.get_row_index(ids["baseline"]))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, Prompt), what="how many more steps")
        assert app.screen.query_one("#answer", Input).value == "40"  # as many again
        await pilot.press("escape")
    assert len(RunStore(runs_dir).list()) == 5


@pytest.mark.slow
@scenario
async def test_resume_on_a_completed_run_offers_to_continue_it_and_does(runs_dir, token_cache_dir):
    from engine.lifecycle import run_engine

    store = RunStore(runs_dir)
    parent = store.create(tiny_config(token_cache_dir, "train.max_steps=6"), name="done", preset="quick")
    assert run_engine(parent.path / "config.toml", parent.path) == 0  # in-process: one engine start less
    app = _app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await _runs_table(pilot, 1)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, Prompt), what="the question")
        question = str(app.screen.query_one("Label").render())
        assert "done completed all its steps: nothing to resume" in question and "more steps" in question
        app.screen.query_one("#answer", Input).value = "4"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run_id != parent.id,
                    what="the new run's view")
        child_id = app.screen.run_id
    assert not any("Engine failed to start" in n.title for n in app._notifications)
    child = wait_for(store, child_id, ("completed", "failed", "crashed"))
    assert child.status == "completed" and child.parent == parent.id and child.name == "done+4"
