"""Pick a preset or a study, edit the schema-generated form, launch (or save a preset).

Launch is refused while any field breaks a rule; the status line names the rule and
the key jumps to the field. Changed fields are marked in the form and listed in the
diff panel on the left, invalid ones with what was typed and the rule. The highlighted
preset's or study's description sits above the form, so a list of bare names is enough
to choose from, and under it an estimate of the edited config's size and speed; `ctrl+g`
goes to any field by part of its name. Edits are never dropped without a question: picking
another preset or resetting asks first. A study is previewed before it is queued.

The form is built in `compose`, holding the first preset, so that a key typed while the
screen is still being built (`EarlyKeys`) finds it complete.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from engine.config import Config, config_diff
from moetui import notes, presets
from moetui.tui import launching
from moetui.tui.screens.confirm import Confirm
from moetui.tui.screens.early_keys import EarlyKeys
from moetui.tui.screens.field_finder import FieldFinder
from moetui.tui.screens.prompt import Prompt
from moetui.tui.screens.study_preview import queue_study
from moetui.tui.widgets.config_form import ConfigForm
from moetui.tui.widgets.preset_list import PresetList
from moetui.tui.widgets.size_estimate import SizeEstimate

DEFAULT_PRESET = "preset:quick"


class LaunchScreen(EarlyKeys, Screen):
    CSS_PATH = ["launch.tcss", "../widgets/config_form.tcss"]
    TITLE = "Launch"
    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch"),
        Binding("ctrl+s", "save", "Save preset"),
        # Off the footer (80 columns hold five keys and the palette's): the status line names
        # ctrl+f whenever there is a problem to go to, and the palette lists it.
        Binding("ctrl+f", "first_problem", "Go to problem", show=False),
        # Priority: resolved as the key arrives, so the letters typed right after it go to the
        # finder, even while this screen is still being built (see EarlyKeys, FieldFinder).
        Binding("ctrl+g", "find_field", "Find field", priority=True),
        Binding("escape", "presets", "Presets"),
        Binding("ctrl+o", "reset", "Reset to preset", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.source: tuple[str, str] | None = None  # ("preset" | "study", name)
        self.study: presets.Study | None = None
        self.base_name: str | None = None  # the preset a study runs on: its own, or the one picked
        self.descriptions: dict[str, str] = {}  # option id -> description, shown while highlighted

    def compose(self) -> ComposeResult:
        options = self._options()
        first = self._first_loadable([option.id for option in options if option.id])
        yield Header()
        with Horizontal():
            with Vertical(id="launch-left"):
                yield PresetList(*options, id="presets")
                with Vertical(id="study-base-box") as box:
                    box.display = False  # shown while a study is picked: its variants go on top of this preset
                    yield Label("Study runs on preset", id="study-base-label")
                    yield Select([(name, name) for name in presets.list_presets()], prompt="pick a preset",
                                 allow_blank=True, id="study-base")
                yield Static("Changed from preset", id="launch-diff-title")
                diff = VerticalScroll(Static("nothing changed", id="diff"), id="launch-diff")
                diff.can_focus = False  # tab goes from the presets straight to the form
                yield diff
            with Vertical():
                yield Static("", id="launch-about")
                yield Static("", id="launch-status")
                yield SizeEstimate(id="launch-estimate")
                yield ConfigForm(first[1] if first else Config(), id="form")
        yield Footer(compact=True)

    def _options(self) -> list[Option]:
        """Presets, then studies, each under a heading (bare names: a long one still fits the
        30-column list on one line)."""
        self.descriptions.clear()
        options = []
        for heading, kind, names in (("Presets", "preset", presets.list_presets()),
                                     ("Studies", "study", presets.list_studies())):
            self.descriptions.update((f"{kind}:{name}", about) for name, about in names.items())
            if names:
                options.append(Option(Text(heading, style="bold"), disabled=True))
                options.extend(Option(f" {name}", id=f"{kind}:{name}") for name in names)
        return options

    def _first_loadable(self, ids: list[str]) -> tuple[str, Config] | None:
        """`quick` first (the preset that runs anywhere in a minute), else the first that loads."""
        for option_id in sorted(ids, key=lambda ident: ident != DEFAULT_PRESET):
            loaded = self._load(option_id, quiet=True)
            if loaded is not None:
                self._take(option_id, *loaded[:2])
                return option_id, loaded[2]
        return None

    def on_mount(self) -> None:
        options = self.query_one("#presets", OptionList)
        if self.source is not None:
            options.highlighted = options.get_option_index(":".join(self.source))
        if self.focused is None:  # at once, not after a refresh: a field found meanwhile keeps the focus
            self.set_focus(options)
        self._show_state()

    @property
    def form(self) -> ConfigForm:
        return self.query_one(ConfigForm)

    # ---- what is picked ------------------------------------------------------------------
    def _load(self, option_id: str, quiet: bool = False) -> tuple[presets.Study | None, str, Config] | None:
        """(study, base preset name, base config) of an option, or None after saying why not."""
        kind, name = option_id.split(":", 1)
        try:
            study = presets.load_study(name) if kind == "study" else None
            base_name = study.base if study else name
            return study, base_name, presets.load_preset(base_name)[0]
        except presets.PresetError as error:
            if not quiet:
                self.notify(str(error), title=f"Cannot load {kind} {name}", severity="error", timeout=10)
            return None

    def _take(self, option_id: str | None, study: presets.Study | None, base_name: str | None) -> None:
        """What the form now holds: an option (None: the schema defaults) and the preset under it."""
        self.source = tuple(option_id.split(":", 1)) if option_id else None  # type: ignore[assignment]
        self.study, self.base_name = study, base_name

    def _about(self, option_id: str) -> Content:
        """The option's description; for a study also its base (the one picked under "Study runs
        on preset" when it is the study being edited) and seeds."""
        about = Content(self.descriptions.get(option_id, "") or "no description")
        kind, name = option_id.split(":", 1)
        if kind != "study":
            return about
        try:
            study = presets.load_study(name)
        except presets.PresetError as error:
            return Content(str(error))
        base = self.base_name if self.source == (kind, name) else study.base
        seeds = ", ".join(map(str, study.seeds)) if study.seeds else "the base's own"
        return Content.from_markup("[b]base[/b] $base, [b]seeds[/b] $seeds · ", base=base, seeds=seeds) + about

    @on(OptionList.OptionHighlighted, "#presets")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Describe the highlighted entry, before it is picked."""
        if event.option.id is not None:
            self.query_one("#launch-about", Static).update(self._about(event.option.id))

    @on(OptionList.OptionSelected, "#presets")
    async def _picked(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id
        self._unless_edits_kept(f"load {option_id.split(':', 1)[1]}", partial(self._select, option_id),
                                self._highlight_source)
        await self.query_one(PresetList).release()  # the keys typed meanwhile: to the form, or the dialog

    def _select(self, option_id: str) -> None:
        loaded = self._load(option_id)
        if loaded is None:
            return
        self._take(option_id, *loaded[:2])
        study, base_name, base = loaded
        picker = self.query_one("#study-base", Select)
        self.query_one("#study-base-box").display = study is not None
        with picker.prevent(Select.Changed):
            if study is not None and base_name in presets.list_presets():
                picker.value = base_name
            else:
                picker.clear()
        self.form.load(base)
        self.focus_next()  # on to the study base or the form

    def _highlight_source(self) -> None:
        options = self.query_one("#presets", OptionList)
        if self.source is not None:
            options.highlighted = options.get_option_index(":".join(self.source))

    @on(Select.Changed, "#study-base")
    def _base_picked(self, event: Select.Changed) -> None:
        """`moetui study S --base P` in the form: the study's variants on another preset."""
        if self.study is None or event.value is Select.NULL:
            return
        name, before = str(event.value), self.base_name

        def back() -> None:
            with event.select.prevent(Select.Changed):
                event.select.value = before

        self._unless_edits_kept(f"load {name}", partial(self._load_base, name), back)

    def _load_base(self, name: str) -> None:
        try:
            base = presets.load_preset(name)[0]
        except presets.PresetError as error:
            self.notify(str(error), title=f"Cannot load preset {name}", severity="error", timeout=10)
            return
        self.base_name = name
        self.form.load(base)
        self.query_one("#launch-about", Static).update(self._about(":".join(self.source)))

    def load_run(self, name: str, config: Config, preset: str | None, tags: list[str]) -> None:
        """Clone a run into the form: its preset picked, its config as edits over it, its tags
        (not its notes: those were about that run). A preset that is gone: edits over the defaults."""
        self._unless_edits_kept(f"load {name}", partial(self._load_run, name, config, preset, tags), lambda: None)

    def _load_run(self, name: str, config: Config, preset: str | None, tags: list[str]) -> None:
        loaded = self._load(f"preset:{preset}", quiet=True) if preset else None
        if loaded is None:
            self.notify(f"{name}'s preset {preset or '(none)'} is gone: its config is shown as edits over the "
                        "defaults.", severity="warning")
            self._take(None, None, None)
            base = Config()
        else:
            self._take(f"preset:{preset}", None, preset)
            base = loaded[2]
        self.query_one("#study-base-box").display = False
        self._highlight_source()
        self.form.load(base, {key: value for key, _, value in config_diff(base, config)})
        self.form.labels.fill(None, tags)
        count = len(self.form.model.changes())
        self.notify(f"Cloned {name}: {count} edit{'' if count == 1 else 's'} over {preset or 'the defaults'}; "
                    "ctrl+l launches it as a new run.")

    def _unless_edits_kept(self, what: str, go: Callable[[], None], stay: Callable[[], None]) -> None:
        """Run `go` at once when the form holds no edits, else after the person agrees to drop them."""
        model = self.form.model
        count = len({key for key, _, _ in model.changes()} | set(model.rejected))
        if not count:
            go()
            return
        source = self.source[1] if self.source else "the defaults"
        edits = "edit" if count == 1 else "edits"
        self.app.push_screen(Confirm(f"Discard your {count} {edits} to {source} and {what}?"),
                             lambda yes: go() if yes else stay())

    # ---- what the form says --------------------------------------------------------------
    @on(ConfigForm.Edited)
    def _edited(self, event: ConfigForm.Edited) -> None:
        self._show_state()

    def _show_state(self) -> None:
        model = self.form.model
        changes = model.changes()
        self.query_one("#diff", Static).update(Content("\n").join(
            Content.from_markup("$key\n  $old → [b]$new[/b]" + (" [$error]✗ $rule[/]" if rule else ""), key=key,
                                old=old, new=repr(new) if key in model.rejected else new, rule=rule)
            for key, old, new, rule in model.edits()) or "nothing changed")
        problems = model.problems()
        status = self.query_one("#launch-status", Static)
        status.set_class(bool(problems), "-blocked")
        what = f"{self.source[0]} [b]{self.source[1]}[/b]" if self.source else "defaults"
        if problems:
            key, rule = next(iter(problems.items()))
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            status.update(f"{what}: cannot launch: {key}: {rule}{more}  [dim]ctrl+f goes there[/]")
        else:
            action = "queue the study" if self.study else "launch"
            status.update(f"{what}: {len(changes)} changed, valid  [dim]ctrl+l to {action}[/]")
        self.query_one(SizeEstimate).show(model.config())

    # ---- keys ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "presets":  # escape in the list itself is left to the app (back, quit…)
            return self.focused is None or self.focused.id != "presets"
        return True

    def action_presets(self) -> None:
        self.query_one("#presets", OptionList).focus()

    def action_reset(self) -> None:
        base = self.form.model.base
        self._unless_edits_kept("go back to its values", partial(self.form.load, base), lambda: None)

    async def action_first_problem(self) -> None:
        problems = self.form.model.problems()
        if problems:
            await self.form.focus_field(next(iter(problems)))

    def action_find_field(self) -> None:
        self.app.push_screen(FieldFinder(), self._found)

    async def _found(self, found: tuple[str | None, list[Any]]) -> None:
        key, typed_after = found
        if key is not None:
            await self.form.focus_field(key)
        if typed_after and self.focused is not None:
            self.replay(typed_after)  # `dropout`, enter, `0.05`: the value goes into the field

    def _labels(self) -> dict[str, Any] | None:
        """The run's notes and tags, or None after saying which tag cannot be kept."""
        try:
            return self.form.labels.labels()
        except notes.TagError as error:
            self.notify(error.message, title="Cannot launch: fix the tags first", severity="error")
            self.query_one("#edit-run-tags").focus()
            return None

    async def action_launch(self) -> None:
        problems = self.form.model.problems()
        if problems:
            key, rule = next(iter(problems.items()))
            self.notify(f"{key}: {rule}", title="Cannot launch: fix the config first", severity="error")
            await self.form.focus_field(key)
            return
        labels = self._labels()
        if labels is None:
            return
        config = self.form.model.config()
        on_slurm = self.form.labels.on_slurm
        if self.study is not None:
            edits = {key: new for key, _, new in self.form.model.changes()}
            queue_study(self.app, self.study, self.base_name, config, edits, labels, on_slurm)
            return
        preset = self.source[1] if self.source else None
        name = self.form.labels.run_name() or preset
        if on_slurm:
            store = self.app.store
            self.app.hand_to_slurm(
                lambda: launching.submit_to_slurm(store, config, name=name, preset=preset, **labels),
                name or "the run")
            self.app.switch_mode("runs")
            return
        run_id = self.app.start_new_run(config, preset, name=name, **labels)
        if run_id is not None:
            self.notify(f"Launched {self.app.store.get(run_id).name}.")
            self.app.rescan()
            self.app.switch_mode("runs")

    def action_save(self) -> None:
        config = self.form.model.config()
        if self.form.model.problems():
            self.notify("Fix the invalid fields before saving a preset.", severity="error")
            return
        description = f"Saved from the TUI (from {self.source[1] if self.source else 'defaults'})"

        def named(name: str | None) -> None:
            if not name:
                return
            try:
                launching.check_preset_name(name)
            except ValueError as error:
                self.notify(str(error), title="Cannot save the preset", severity="error")
                return
            clash = launching.preset_clash(name)
            if clash is None:
                save(name, True)
            else:
                self.app.push_screen(Confirm(clash), partial(save, name))

        def save(name: str, yes: bool | None) -> None:
            if not yes:
                return
            try:
                path = launching.save_preset(name, config, description)
            except OSError as error:
                self.notify(str(error), title="Cannot save the preset", severity="error")
                return
            self.notify(f"Saved {path}")
            options = self.query_one("#presets", OptionList)
            options.set_options(self._options())
            self._highlight_source()

        self.app.push_screen(Prompt("Save the edited config as preset named:", "", "letters, digits, - and _"), named)

