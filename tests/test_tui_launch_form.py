"""Stories of the launch form at 80x24: finding a field by name, reading what a preset or a
study is before picking it, a diff panel that never passes an invalid value off as taken,
edits never dropped without a question, up and down through the fields, the size estimate,
notes and tags given to the run, a study previewed before it is queued, and a preset saved
over a built-in one."""

from __future__ import annotations

from textual.widgets import Collapsible, Input, Label, OptionList, Select, Static

from moetui import presets, scheduler
from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.confirm import Confirm
from moetui.tui.screens.field_finder import FieldFinder
from moetui.tui.screens.study_preview import StudyPreviewScreen
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
        await until(pilot, lambda: "schedule.warmup_ratio" in _text(app, "#diff"), what="the edit in the diff")


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
        study = presets.load_study("ablation")
        await until(pilot, lambda: study.description in _text(app, "#launch-about"), what="the study described")
        about = _text(app, "#launch-about")
        assert study.description in about and f"base {study.base}" in about and "seeds 42" in about
        assert not app.screen.query_one("#study-base-box").display  # the form still holds quick
        options.focus()
        await pilot.press("enter")
        box = app.screen.query_one("#study-base-box")
        await until(pilot, lambda: box.display, what="the study base picker")
        assert box.display and "preset" in str(box.query_one(Label).render()).lower()


@scenario
async def test_an_invalid_field_is_listed_in_the_diff_as_typed_with_its_rule(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        editor = app.screen.query_one("#edit-model-d_model", Input)
        editor.value = "256"
        await until(pilot, lambda: "128 → 256" in _text(app, "#diff"), what="the edit in the diff")
        editor.value = "256x"  # the config still holds 256: the diff must not say so
        await until(pilot, lambda: "'256x'" in _text(app, "#diff"), what="the bad value in the diff")
        diff = _text(app, "#diff")
        assert "128 → '256x' ✗ expected int" in diff and "→ 256\n" not in diff + "\n"
        editor.value = "128"  # back to the preset's value: nothing changed, nothing invalid
        await until(pilot, lambda: _text(app, "#diff") == "nothing changed", what="the diff emptied")


@scenario
async def test_picking_another_preset_asks_before_dropping_edits_and_ctrl_o_resets_to_the_preset(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        await app.screen.form.focus_field("model.d_model")
        await pilot.press("ctrl+u", *"256", "escape")  # escape: back to the preset list
        options = app.screen.query_one("#presets", OptionList)
        assert app.focused is options
        options.highlighted = options.get_option_index("preset:baseline")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        assert "Discard your 1 edit to quick and load baseline?" in str(app.screen.query_one(Label).render())
        await pilot.press("n")
        await until(pilot, lambda: options.highlighted_option.id == "preset:quick", what="quick highlighted again")
        assert "128 → 256" in _text(app, "#diff")
        await pilot.press("ctrl+o", "y")  # reset: the preset's values back, after the same question
        await until(pilot, lambda: _text(app, "#diff") == "nothing changed", what="the edit dropped")
        assert app.screen.query_one("#edit-model-d_model", Input).value == "128"


@scenario
async def test_up_and_down_move_between_fields_a_select_included(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        await app.screen.form.focus_field("model.dropout")
        await pilot.press("down")
        assert app.focused.id == "edit-model-norm"  # a select: down moves on, it does not open
        await pilot.press("down", "down", "up")
        assert app.focused.id == "edit-model-norm_position" and not app.focused.expanded
        await pilot.press("enter", "down")  # enter opens it: now down moves in its list
        assert app.focused.id != "edit-model-pos_encoding"


@scenario
async def test_the_estimate_follows_the_edited_config_and_says_a_guess_is_one(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        estimate = app.screen.query_one("#launch-estimate", Static)
        await until(pilot, lambda: "(guess)" in str(estimate.render()), what="the estimate")  # an empty store
        assert str(estimate.render()).startswith("≈ 1.18M params (788k active)")  # quick, as sizing counts it
        app.screen.query_one("#edit-model-d_model", Input).value = "256"
        await until(pilot, lambda: "1.18M" not in str(estimate.render()), what="the estimate of d_model 256")


@scenario
async def test_a_run_is_launched_with_the_name_notes_and_tags_typed_and_a_bad_tag_stops_it(runs_dir):
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    started = []
    app.start_new_run = lambda config, preset, **labels: started.append(labels)  # no engine in this story
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        app.screen.query_one("#edit-run-name", Input).value = " top1-probe "
        app.screen.query_one("#edit-run-notes", Input).value = "first look at top-1"
        app.screen.query_one("#edit-run-tags", Input).value = "top1 fig/2"
        await pilot.press("ctrl+l")
        await until(pilot, lambda: app.focused.id == "edit-run-tags", what="the bad tag focused")
        assert started == [] and "✗ tag 'fig/2'" in str(app.screen.query_one("#field-run-tags .help").render())
        app.screen.query_one("#edit-run-tags", Input).value = "top1 #fig2"
        await pilot.press("ctrl+l")
        await until(pilot, lambda: started, what="the launch")
        assert started == [{"name": "top1-probe", "notes": "first look at top-1", "tags": ["top1", "fig2"]}]


@scenario
async def test_a_study_is_previewed_before_it_is_queued(runs_dir, monkeypatch):
    monkeypatch.setattr(scheduler, "ensure_scheduler", lambda store, gpus=None: None)  # queued, not run
    store = RunStore(runs_dir)
    app = create_app(store, scan_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await _launch_form(pilot)
        options = app.screen.query_one("#presets", OptionList)
        options.focus()
        options.highlighted = options.get_option_index("study:components")
        await pilot.press("enter")
        app.screen.query_one("#study-base", Select).value = "quick"
        await until(pilot, lambda: "base quick" in _text(app, "#launch-about"), what="the study on quick")
        for answer in ("escape", "y"):  # look, go back; look again, queue
            await pilot.press("ctrl+l", "ctrl+u", *"1, 2", "enter")
            await until(pilot, lambda: isinstance(app.screen, StudyPreviewScreen) and app.screen.ready,
                        what="the preview")
            variants = len(presets.load_study("components").variants)
            runs = variants * 2
            assert (f"study components on quick: {variants} variants x 2 seeds (1, 2) = {runs} runs"
                    in _text(app, "#preview-text"))
            await pilot.press(answer)
            await until(pilot, lambda: not isinstance(app.screen, StudyPreviewScreen), what="the preview closed")
            assert len(store.list()) == (0 if answer == "escape" else runs)
        assert {record.seed for record in store.list()} == {1, 2}


@scenario
async def test_saving_a_preset_under_a_built_in_name_asks_then_shadows_it(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MOETUI_PRESETS", str(tmp_path))  # this test's own presets folder
    app = create_app(RunStore(runs_dir), scan_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _launch_form(pilot)
        app.screen.query_one("#edit-model-d_model", Input).value = "256"
        await pilot.press("ctrl+s", *"quick", "enter")
        await until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        assert "Save over the built-in quick? Yours shadows it." in str(app.screen.query_one(Label).render())
        await pilot.press("y")
        await until(pilot, lambda: (tmp_path / "quick.toml").exists(), what="the preset saved")
        assert presets.load_preset("quick")[0].model.d_model == 256
