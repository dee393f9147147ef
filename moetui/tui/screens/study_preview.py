"""Queueing a study from the launch form: its seeds asked for, then what it will create shown
(`moetui.study_preview`, the lines `moetui study S --dry-run` prints), then y to queue it or
escape to go back to the form.

Reading earlier runs' speed opens their events (cached digests) and looking for GPUs may run
nvidia-smi, so the preview is built in a worker thread that posts it here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from engine.config import Config
from moetui import estimate, scheduler, study_preview
from moetui.errors import MoetuiError
from moetui.presets import PresetError, Study
from moetui.tui import launching
from moetui.tui.screens.prompt import Prompt


@dataclass
class Built(Message):
    """The preview's lines, or why the study cannot be queued as it stands."""

    lines: list[str] | None
    error: str | None = None


def build(make: Callable[[], study_preview.StudyPreview], post: Any) -> None:
    try:
        post(Built(study_preview.lines(make())))
    except PresetError as error:  # a variant that cannot run here, exactly as queueing would say
        post(Built(None, str(error)))


class StudyPreviewScreen(ModalScreen[bool]):
    CSS_PATH = "study_preview.tcss"
    BINDINGS = [Binding("y", "queue", "Queue them"), Binding("escape,n", "back", "Back to the form")]

    def __init__(self, make: Callable[[], study_preview.StudyPreview]) -> None:
        """`make` builds the preview (in a worker thread: it reads the store)."""
        super().__init__()
        self._make = make
        self.ready = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            with VerticalScroll(id="preview-body"):
                yield Static("reading earlier runs to estimate the time…", id="preview-text", markup=False)
            yield Label("", id="preview-keys", classes="dim")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.run_worker(partial(build, self._make, self.post_message), thread=True, name="study preview")

    def on_built(self, message: Built) -> None:
        self.query_one("#preview-text", Static).update("\n".join(message.lines or [message.error or ""]))
        self.ready = message.lines is not None
        self.query_one("#preview-keys", Label).update(
            "y queue them   escape back to the form" if self.ready else "escape back to the form")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.ready or action != "queue"

    def action_queue(self) -> None:
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)


def queue_study(app: Any, study: Study, base_name: str, config: Config, edits: dict[str, Any],
                labels: dict[str, Any], on_slurm: bool = False) -> None:
    """Ask for the seeds, preview, and queue `study` on `config` (the preset `base_name` with
    the form's `edits`), each run with the form's notes and tags: on this machine's queue, or
    (`on_slurm`) as one Slurm job a run."""
    store = app.store

    def preview(answer: str | None) -> None:
        if answer is None:
            return
        try:
            seeds = launching.parse_seeds(answer)
        except ValueError as error:
            app.notify(str(error), title="Cannot queue the study", severity="error")
            return

        def make() -> study_preview.StudyPreview:  # in the preview's worker thread
            records = store.list()
            return study_preview.preview(study, base_name, config, edits, seeds, records,
                                         estimate.measured_rates(records, store.root), scheduler.detect_gpus())

        app.push_screen(StudyPreviewScreen(make), partial(queue, seeds))

    def queue(seeds: list[int], yes: bool | None) -> None:
        if not yes:
            return
        if on_slurm:
            app.hand_to_slurm(partial(launching.submit_study_to_slurm, store, study, base_name, config, seeds,
                                      **labels), f"study {study.name}")
            app.switch_mode("runs")
            return
        try:
            count = launching.queue_study(store, study, base_name, config, seeds, **labels)
        except MoetuiError as error:  # a variant not ready here, a read-only store
            app.notify(str(error), title="Cannot queue the study", severity="error")
            return
        app.notify(f"Queued {count} runs of study {study.name}.")
        app.rescan()
        app.switch_mode("queue")

    seeds = ", ".join(map(str, study.seeds or [])) or "42"
    app.push_screen(Prompt(f"Seeds for study {study.name} ({len(study.variants)} variants, base {base_name}):",
                           seeds, "comma-separated integers"), preview)
