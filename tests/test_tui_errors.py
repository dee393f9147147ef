"""Errors reach the person as notifications with the reason, and the app keeps working:
a preset file with a TOML mistake, and a run the engine refuses (its data is missing)."""

from __future__ import annotations

from textual.widgets import Input, OptionList

from moetui.runs import RunStore
from moetui.tui import create_app
from tests.tui_pilot import fill_form, scenario, until


def _pick(options: OptionList, option_id: str) -> None:
    options.highlighted = [options.get_option_at_index(i).id for i in range(options.option_count)].index(option_id)


@scenario
async def test_a_broken_preset_file_is_a_notification_naming_file_and_line(runs_dir, tmp_path, monkeypatch):
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "broken.toml").write_text('[model]\nd_model = 256\nn_heads = "eight\n')
    monkeypatch.setenv("MOETUI_PRESETS", str(folder))
    app = create_app(RunStore(runs_dir), scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.screen.query("#edit-model-d_model"), what="the launch form")
        options = app.screen.query_one("#presets", OptionList)
        _pick(options, "preset:broken")
        await pilot.press("enter")
        await until(pilot, lambda: app._notifications, what="a notification")
        (note,) = list(app._notifications)
        assert "broken.toml" in note.message and "line 3" in note.message and note.severity == "error"
        assert app.screen.query_one("#edit-model-d_model", Input).value == "128"  # quick still loaded
        _pick(options, "preset:quick")
        await pilot.press("enter")  # the app is still alive and working
        await pilot.pause()


@scenario
async def test_a_run_the_engine_refuses_is_a_notification_with_its_reason(runs_dir, token_cache_dir, tmp_path):
    app = create_app(RunStore(runs_dir), scan_interval=0.2, redraw_interval=0.2)
    one_document = tmp_path / "one-document.txt"  # readable text (the pre-flight passes it), too little to split
    one_document.write_text("just a few words of text here.\n")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+n")
        await fill_form(pilot, {"data.source": one_document, "data.cache_dir": token_cache_dir})
        await pilot.press("ctrl+l")
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications), timeout=90,
                    what="the engine's error")
        errors = [n for n in app._notifications if n.severity == "error"]
        assert any(str(one_document) in n.message and "needs at least 2" in n.message for n in errors), \
            [n.message for n in errors]
        (record,) = app.store.list()
        await until(pilot, lambda: app.store.get(record.id).status == "failed", what="the run to be failed")
