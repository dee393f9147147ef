"""Pick a preset or a study, edit the schema-generated form, launch (or save a preset).

Launch is refused while any field breaks a rule; the status line names the rule and
the key jumps to the field. Changed fields are marked in the form and listed in the
diff panel on the left, invalid ones with what was typed and the rule. The highlighted
preset's or study's description sits above the form, so a list of bare names is enough
to choose from; `ctrl+g` goes to any field by part of its name."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from engine.config import Config
from moetui import presets
from moetui.errors import MoetuiError
from moetui.tui import launching
from moetui.tui.field_commands import FieldCommands
from moetui.tui.screens.prompt import Prompt
from moetui.tui.widgets.config_form import ConfigForm

DEFAULT_PRESET = "preset:quick"


class LaunchScreen(Screen):
    CSS_PATH = ["launch.tcss", "../widgets/config_form.tcss"]
    TITLE = "Launch"
    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch"),
        Binding("ctrl+s", "save", "Save preset"),
        # Off the footer (80 columns hold five keys and the palette's): the status line names
        # ctrl+f whenever there is a problem to go to, and the palette lists it.
        Binding("ctrl+f", "first_problem", "Go to problem", show=False),
        Binding("ctrl+g", "find_field", "Find field"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.source: tuple[str, str] | None = None  # ("preset" | "study", name)
        self.study: presets.Study | None = None
        self.base_name: str | None = None  # the preset a study runs on: its own, or the one picked
        self.descriptions: dict[str, str] = {}  # option id -> description, shown while highlighted

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="launch-left"):
                yield OptionList(id="presets")
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
                yield ConfigForm(Config(), id="form")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        options = self._fill_options()
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        known = [i for i, ident in enumerate(ids) if ident]
        if known:  # `quick` first: the preset that runs anywhere in a minute
            first = ids.index(DEFAULT_PRESET) if DEFAULT_PRESET in ids else known[0]
            options.highlighted = first
            self._select(ids[first])
        options.focus()

    def _fill_options(self) -> OptionList:
        """Presets, then studies, each under a heading (bare names: a long one still fits the
        30-column list on one line)."""
        options = self.query_one("#presets", OptionList)
        highlighted = options.highlighted_option.id if options.highlighted_option else None
        options.clear_options()
        self.descriptions.clear()
        for heading, kind, names in (("Presets", "preset", presets.list_presets()),
                                     ("Studies", "study", presets.list_studies())):
            self.descriptions.update((f"{kind}:{name}", about) for name, about in names.items())
            if names:
                options.add_option(Option(Text(heading, style="bold"), disabled=True))
                options.add_options(Option(f" {name}", id=f"{kind}:{name}") for name in names)
        if highlighted is not None:
            options.highlighted = options.get_option_index(highlighted)
        return options

    @property
    def form(self) -> ConfigForm:
        return self.query_one(ConfigForm)

    @on(OptionList.OptionHighlighted, "#presets")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Describe the highlighted entry, before it is picked (and a study with what it runs on)."""
        option_id = event.option.id
        if option_id is None:
            return
        about = Content(self.descriptions.get(option_id, "") or "no description")
        kind, name = option_id.split(":", 1)
        if kind == "study":
            try:
                study = presets.load_study(name)
            except presets.PresetError as error:
                about = Content(str(error))
            else:
                seeds = ", ".join(map(str, study.seeds)) if study.seeds else "the base's own"
                about = Content.from_markup("[b]base[/b] $base, [b]seeds[/b] $seeds · ", base=study.base,
                                            seeds=seeds) + about
        self.query_one("#launch-about", Static).update(about)

    @on(OptionList.OptionSelected, "#presets")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._select(event.option.id)
        self.focus_next()  # on to the study base or the form

    def _select(self, option_id: str) -> None:
        kind, name = option_id.split(":", 1)
        try:
            study = presets.load_study(name) if kind == "study" else None
            base_name = study.base if study else name
            base = presets.load_preset(base_name)[0]
        except presets.PresetError as error:
            self.notify(str(error), title=f"Cannot load {kind} {name}", severity="error", timeout=10)
            return
        self.source, self.study, self.base_name = (kind, name), study, base_name
        picker = self.query_one("#study-base", Select)
        self.query_one("#study-base-box").display = study is not None
        with picker.prevent(Select.Changed):
            if study is not None and base_name in presets.list_presets():
                picker.value = base_name
            else:
                picker.clear()
        self.form.load(base)

    @on(Select.Changed, "#study-base")
    def _base_picked(self, event: Select.Changed) -> None:
        """`moetui study S --base P` in the form: the study's variants on another preset."""
        if self.study is None or event.value is Select.NULL:
            return
        try:
            base = presets.load_preset(str(event.value))[0]
        except presets.PresetError as error:
            self.notify(str(error), title=f"Cannot load preset {event.value}", severity="error", timeout=10)
            return
        self.base_name = str(event.value)
        self.form.load(base)

    @on(ConfigForm.Edited)
    def _edited(self, event: ConfigForm.Edited) -> None:
        model = event.form.model
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

    # ---- keys ----------------------------------------------------------------------------
    def action_first_problem(self) -> None:
        problems = self.form.model.problems()
        if problems:
            self.form.focus_field(next(iter(problems)))

    def action_find_field(self) -> None:
        if not CommandPalette.is_open(self.app):
            self.app.push_screen(CommandPalette(providers=[FieldCommands],
                                                placeholder="Go to field: type part of its name or help…"))

    def action_launch(self) -> None:
        problems = self.form.model.problems()
        if problems:
            key, rule = next(iter(problems.items()))
            self.notify(f"{key}: {rule}", title="Cannot launch: fix the config first", severity="error")
            self.form.focus_field(key)
            return
        config = self.form.model.config()
        if self.study is not None:
            self._ask_seeds(config)
            return
        preset = self.source[1] if self.source else None
        run_id = self.app.start_new_run(config, preset)
        if run_id is not None:
            self.notify(f"Launched {self.app.store.get(run_id).name}.")
            self.app.rescan()
            self.app.switch_mode("runs")

    def _ask_seeds(self, config: Config) -> None:
        study = self.study

        def queue(answer: str | None) -> None:
            if answer is None:
                return
            try:
                seeds = launching.parse_seeds(answer)
                count = launching.queue_study(self.app.store, study, self.base_name, config, seeds)
            except (ValueError, MoetuiError) as error:  # a bad seed, a variant not ready here, a read-only store
                self.notify(str(error), title="Cannot queue the study", severity="error")
                return
            self.notify(f"Queued {count} runs of study {study.name}.")
            self.app.rescan()
            self.app.switch_mode("queue")

        seeds = ", ".join(map(str, study.seeds or [])) or "42"
        self.app.push_screen(Prompt(f"Seeds for study {study.name} ({len(study.variants)} variants, "
                                    f"base {self.base_name}):", seeds, "comma-separated integers"), queue)

    def action_save(self) -> None:
        config = self.form.model.config()
        if self.form.model.problems():
            self.notify("Fix the invalid fields before saving a preset.", severity="error")
            return

        def save(name: str | None) -> None:
            if not name:
                return
            try:
                path = launching.save_preset(name, config, f"Saved from the TUI (from {self.source[1] if self.source else 'defaults'})")
            except (OSError, ValueError, presets.PresetError) as error:
                self.notify(str(error), title="Cannot save the preset", severity="error")
                return
            self.notify(f"Saved {path}")
            self._fill_options()

        self.app.push_screen(Prompt("Save the edited config as preset named:", "", "letters, digits, - and _"), save)
