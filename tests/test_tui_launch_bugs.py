"""Bugs of the launch form, typed the way a person in a hurry on a busy server types: every key
sent at once, before the launch screen has finished building, and the whole story repeated
(each of the first two failed in every one of 20 tries before its fix; 20 keeps a fix that
only usually works from passing).

1. ctrl+n, ctrl+g, `dropout`, enter, `.5`: the letters were lost and enter landed on
   model.d_model, where `.5` was typed.
2. ctrl+g, `lr`, enter, `5`: the form stopped scrolling before optim.muon_lr (its section
   opening scrolled last) and the `5` changed it out of sight.
3. Study ablation picked, "Study runs on preset" changed to quick: the description still
   said "base baseline".
"""

from __future__ import annotations

from textual import events
from textual.widgets import OptionList, Select, Static

from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.launch import LaunchScreen
from tests.tui_pilot import scenario, until

LOOPS = 20


def _type_ahead(app, *keys: str) -> None:
    """All `keys` into the app's input queue at once, as a terminal delivers keys typed while
    the app was busy (Pilot's `press` waits for the app between keys, which hides the bug)."""
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)


async def _next_try(app) -> None:
    """Back to the runs table, with the launch screen gone: the next ctrl+n builds it anew."""
    await app.switch_mode("runs")
    await app.remove_mode("launch")
    app.add_mode("launch", LaunchScreen)


async def _typed_into(pilot, editor_id: str, value: str, *, in_view: bool = False, loop: int) -> None:
    app = pilot.app

    def there() -> bool:
        focused = app.focused
        if focused is None or focused.id != editor_id or getattr(focused, "value", None) != value:
            return False
        return not in_view or app.screen.query_one("#form").region.contains_region(focused.region)

    try:
        await until(pilot, there, timeout=15, what=editor_id)
    except AssertionError:
        focused = app.focused
        raise AssertionError(f"try {loop + 1}: wanted {value!r} typed into {editor_id}"
                             f"{' in view' if in_view else ''}; the focus is on "
                             f"{getattr(focused, 'id', focused)} holding {getattr(focused, 'value', None)!r}") from None


@scenario
async def test_bug1_a_field_found_with_ctrl_g_right_after_ctrl_n_takes_the_value_typed_next(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        for loop in range(LOOPS):
            _type_ahead(app, "ctrl+n", "ctrl+g", *"dropout", "enter", ".", "5")  # quick's dropout is 0
            await _typed_into(pilot, "edit-model-dropout", "0.5", loop=loop)
            assert app.screen.form.model.values["model.dropout"] == 0.5
            await _next_try(app)


@scenario
async def test_bug2_a_field_found_in_a_closed_section_is_scrolled_into_view_before_it_is_typed_in(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        for loop in range(LOOPS):
            _type_ahead(app, "ctrl+n", "ctrl+g", "l", "r", "enter", "5")  # quick's Muon lr is 0.05
            await _typed_into(pilot, "edit-optim-muon_lr", "0.055", in_view=True, loop=loop)
            await pilot.wait_for_scheduled_animations()  # and it stays there once every scroll has run
            form = app.screen.query_one("#form")
            assert form.region.contains_region(app.focused.region), f"try {loop + 1}: muon_lr scrolled away"
            await _next_try(app)


@scenario
async def test_bug3_the_study_description_names_the_preset_picked_to_run_it_on(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.screen.query("#study-base"), what="the launch screen")
        about = app.screen.query_one("#launch-about", Static)
        options = app.screen.query_one("#presets", OptionList)
        options.focus()
        options.highlighted = options.get_option_index("study:ablation")
        await pilot.press("enter")
        await until(pilot, lambda: "base baseline" in str(about.render()), what="the study's own base described")
        app.screen.query_one("#study-base", Select).value = "quick"
        await until(pilot, lambda: "base quick" in str(about.render()), what="the picked base described")
        assert "base baseline" not in str(about.render())


@scenario
async def test_keys_typed_right_after_enter_on_a_preset_go_to_the_form_not_the_preset_list(runs_dir):
    """enter on a preset, then at once down and a name: the down moved the list's highlight
    (the form took the focus only when the pick was handled) and the name was lost."""
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        for loop in range(LOOPS // 4):
            _type_ahead(app, "ctrl+n")
            await until(pilot, lambda: app.focused is not None and app.focused.id == "presets", what="the preset list")
            _type_ahead(app, "enter", "down", *"named")
            await _typed_into(pilot, "edit-run-name", "named", loop=loop)
            assert app.screen.source == ("preset", "quick")  # the highlight never moved off it
            await _next_try(app)
