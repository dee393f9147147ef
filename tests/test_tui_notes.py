"""Stories of a researcher's notes and tags in the TUI, and of cloning a run: `e` on the runs
table writes them to run.json, the table shows them and `/` finds them; `C` opens the launch
form on a run's config, as edits over its preset."""

from __future__ import annotations

from textual.widgets import DataTable, Input, OptionList, Static

from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.launch import LaunchScreen
from moetui.tui.screens.notes_editor import NotesEditor
from tests.tui_fixtures import finished_run, fixed_store, quick_config
from tests.tui_pilot import scenario, until


async def _on_run(pilot, run_id: str) -> DataTable:
    table = pilot.app.screen.query_one("#runs", DataTable)
    await until(pilot, lambda: table.row_count == 5, what="the runs table")
    table.move_cursor(row=table.get_row_index(run_id))
    return table


@scenario
async def test_notes_and_tags_written_on_a_run_show_in_the_table_and_the_filter_finds_them(runs_dir):
    store = RunStore(runs_dir)
    ids = fixed_store(store)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _on_run(pilot, ids["topk1"])
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, NotesEditor), what="the notes editor")
        await pilot.press(*"routing collapses", "tab", *"fig2 a/b")
        await pilot.press("ctrl+s")
        problem = app.screen.query_one("#notes-problem", Static)
        await until(pilot, lambda: "tag 'a/b'" in str(problem.render()), what="the bad tag named")
        assert store.get(ids["topk1"]).tags == []  # nothing written
        await pilot.press("ctrl+u", *"fig2 top-k", "enter")
        await until(pilot, lambda: not isinstance(app.screen, NotesEditor), what="the editor closed")
        record = store.get(ids["topk1"])
        assert (record.notes, record.tags) == ("routing collapses", ["fig2", "top-k"])
        await until(pilot, lambda: "#fig2 #top-k routing collapses" in str(table.get_row(ids["topk1"])),
                    what="the tags and note in the table")
        await pilot.press("slash", *"#fig2")
        await until(pilot, lambda: table.row_count == 1, what="only the tagged run")
        assert table.get_row_at(0) == table.get_row(ids["topk1"])


@scenario
async def test_clone_opens_the_launch_form_with_the_runs_config_as_edits_over_its_preset(runs_dir):
    store = RunStore(runs_dir)
    clone_me = finished_run(store, "wide", quick_config(**{"model.d_model": 256, "moe.top_k": 1}), 4.2)
    store.update(clone_me, tags=["sweep"], notes="about the old run")
    for n in range(4):
        finished_run(store, f"other-{n}", quick_config(), 4.5)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _on_run(pilot, clone_me)
        await pilot.press("C")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen) and "2 changed" in
                    str(app.screen.query_one("#launch-status", Static).render()), what="the clone in the form")
        diff = str(app.screen.query_one("#diff", Static).render())
        assert "model.d_model\n  128 → 256" in diff and "moe.top_k\n  2 → 1" in diff
        assert app.screen.source == ("preset", "quick")
        assert app.screen.query_one("#presets", OptionList).highlighted_option.id == "preset:quick"
        assert app.screen.query_one("#edit-run-tags", Input).value == "sweep"
        assert app.screen.query_one("#edit-run-notes", Input).value == ""  # the old run's words stay with it
