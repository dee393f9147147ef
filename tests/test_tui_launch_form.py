"""Stories of the launch form at 80x24: finding a field by name, reading what a preset or a
study is before picking it, and a diff panel that never passes an invalid value off as taken."""

from __future__ import annotations

from textual.widgets import Collapsible, Input, Label, OptionList, Static

from moetui import presets
from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.field_finder import FieldFinder
from tests.tui_pilot import scenario, until


async def _launch_form(pilot) -> None:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: pilot.app.screen.query("#edit-model-d_model"), what="the launch form")
    await pilot.pause(0.2)


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


@scenario
async def test_ctrl_g_goes_to_a_field_by_part_of_its_name_opening_its_section(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        footer_keys = {active.binding.key for active in app.screen.active_bindings.values() if active.binding.show}
        assert "ctrl+g" in footer_keys
        for query, key, section in (("max_steps", "train.max_steps", "train"),
                                    ("warmup_ratio", "schedule.warmup_ratio", "schedule")):
            assert app.screen.query_one(f"#section-{section}", Collapsible).collapsed == (section == "schedule")
            await pilot.press("ctrl+g")
            await until(pilot, lambda: isinstance(app.screen, FieldFinder), what="the field finder")
            await pilot.press(*query)
            hits = app.screen.query_one("#find-hits", OptionList)
            await until(pilot, lambda: hits.option_count and hits.get_option_at_index(0).id == key,
                        what=f"{key} listed first")
            await pilot.press("enter")
            editor = f"edit-{key.replace('.', '-')}"
            await until(pilot, lambda: app.focused is not None and app.focused.id == editor, what=f"{key} focused")
            await pilot.pause(0.5)
            assert not app.screen.query_one(f"#section-{section}", Collapsible).collapsed
            assert app.screen.query_one("#form").region.contains_region(app.focused.region)  # scrolled to it
        await pilot.press("ctrl+u", *"20")  # the focused field takes what is typed
        await pilot.pause(0.2)
        assert "schedule.warmup_ratio" in _text(app, "#diff")


@scenario
async def test_a_section_opened_by_a_broken_rule_keeps_the_field_being_typed_in_view(runs_dir):
    """On reasoning-base (20 warmup steps), max_steps=1 breaks the warmup rule of the
    schedule section, which opens above train."""
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        options = app.screen.query_one("#presets", OptionList)
        options.focus()
        options.highlighted = options.get_option_index("preset:reasoning-base")
        await pilot.press("enter")
        await until(pilot, lambda: "reasoning-base" in _text(app, "#launch-status"), what="reasoning-base picked")
        form = app.screen.query_one("#form")
        await form.focus_field("train.max_steps")
        await pilot.pause(0.3)
        await pilot.press("ctrl+u", "1")
        await until(pilot, lambda: not app.screen.query_one("#section-schedule", Collapsible).collapsed,
                    what="the schedule section open")
        await pilot.pause(0.3)
        assert app.focused.id == "edit-train-max_steps"
        assert form.region.contains_region(app.focused.region)


@scenario
async def test_the_highlighted_preset_or_study_is_described_and_the_study_base_is_labelled(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        assert "Tiny MoE for CPU smoke tests" in _text(app, "#launch-about")  # quick, highlighted at the start
        options = app.screen.query_one("#presets", OptionList)
        options.highlighted = options.get_option_index("study:ablation")  # highlighted, not yet picked
        await pilot.pause(0.2)
        study = presets.load_study("ablation")
        about = _text(app, "#launch-about")
        assert study.description in about and f"base {study.base}" in about and "seeds 42" in about
        assert not app.screen.query_one("#study-base-box").display  # the form still holds quick
        options.focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        box = app.screen.query_one("#study-base-box")
        assert box.display and "preset" in str(box.query_one(Label).render()).lower()


@scenario
async def test_an_invalid_field_is_listed_in_the_diff_as_typed_with_its_rule(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        editor = app.screen.query_one("#edit-model-d_model", Input)
        editor.value = "256"
        await pilot.pause(0.1)
        assert "128 → 256" in _text(app, "#diff")
        editor.value = "256x"  # the config still holds 256: the diff must not say so
        await pilot.pause(0.2)
        diff = _text(app, "#diff")
        assert "128 → '256x' ✗ expected int" in diff and "→ 256\n" not in diff + "\n"
        editor.value = "128"  # back to the preset's value: nothing changed, nothing invalid
        await pilot.pause(0.2)
        assert _text(app, "#diff") == "nothing changed"
