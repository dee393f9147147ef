"""The run's own name, notes and tags at the top of the launch form, and where it runs: not
config, but what a researcher will look a run up by and search the runs table for later
(`/#tag`), so typed before launching. The name is only a stem: the store makes it unique
(`ablation-2`). A tag that cannot be kept is marked as typed, with the rule, as a config
field is. "runs on" is this machine (its own queue for a study) or Slurm: one sbatch job a
run, with the options of `[slurm]` in config.toml (docs/scaling.md)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Select

from moetui import notes
from moetui.tui.widgets.config_field import FormRow


WHERE = [("this machine", "local"), ("Slurm: one sbatch job a run ([slurm] in config.toml)", "slurm")]


class RunLabels(Vertical):
    def compose(self) -> ComposeResult:
        # No help line under these two (the placeholders say it; 80x24 has no row to spare), only
        # the rule a tag breaks.
        yield FormRow("name", Input(placeholder="default: the preset's (quick, then quick-2, ...)", compact=True,
                                    id="edit-run-name"), "", id="field-run-name")
        yield FormRow("notes", Input(placeholder="what this run is for", compact=True, id="edit-run-notes"),
                      "", id="field-run-notes")
        yield FormRow("tags", Input(placeholder="e.g. lr-sweep fig2", compact=True, id="edit-run-tags"),
                      "", id="field-run-tags")
        yield FormRow("runs on", Select(WHERE, value="local", allow_blank=False, compact=True, id="edit-run-where"),
                      "", id="field-run-where")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()  # not a config field: the form's model never sees it
        self.query_one("#field-run-tags", FormRow).show(self.tags_problem())

    def tags_problem(self) -> str | None:
        try:
            self.labels()
        except notes.TagError as error:
            return error.message
        return None

    def labels(self) -> dict[str, object]:
        """`notes` and `tags` as a new run keeps them (`TagError` for a tag it cannot keep)."""
        return {"notes": notes.clean_note(self.query_one("#edit-run-notes", Input).value),
                "tags": notes.parse_tags(self.query_one("#edit-run-tags", Input).value)}

    @on(Select.Changed)
    def _picked(self, event: Select.Changed) -> None:
        event.stop()  # not a config field either

    @property
    def on_slurm(self) -> bool:
        return self.query_one("#edit-run-where", Select).value == "slurm"

    def run_name(self) -> str | None:
        """The name typed for a single run, or None for the default (made unique by the store)."""
        return self.query_one("#edit-run-name", Input).value.strip() or None

    def fill(self, note: str | None, tags: list[str]) -> None:
        self.query_one("#edit-run-notes", Input).value = note or ""
        self.query_one("#edit-run-tags", Input).value = " ".join(tags)
