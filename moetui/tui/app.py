"""The moetui Textual app: owns the run state, the feeds that fill it and the run actions.

Screens draw `self.state`; background workers (feeds.py) post messages that the
handlers here fold into it. Quitting only stops the feeds: runs live in their own
process sessions and the next TUI picks them up from their files.
"""

from __future__ import annotations

import subprocess
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import on
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import OptionList

from engine.config import Config, ConfigError
from engine.identity import this_host
from engine.rundir import EVENTS_FILE, LOG_FILE
from moetui import launcher, notes, status
from moetui.errors import MoetuiError
from moetui.hardware import HostSampler, Sampler, local_engines
from moetui.report.run_config import read_run_config
from moetui.runs import RunRecord
from moetui.tui.feeds import StoreWatcher, follow_pipe, sample_hardware, watch_store
from moetui.tui import chart_settings
from moetui.tui.log_tail import tail_lines
from moetui.tui.messages import EngineExited, HardwareSampled, RunEvents, StoreScanned
from moetui.tui.screens.compare import CompareScreen
from moetui.tui.screens.confirm import Confirm
from moetui.tui.screens.help import HelpScreen
from moetui.tui.screens.launch import LaunchScreen
from moetui.tui.screens.notes_editor import NotesEditor
from moetui.tui.screens.prompt import Prompt
from moetui.tui.screens.queue import QueueScreen
from moetui.tui.screens.run import RunScreen
from moetui.tui.screens.runs import RunsScreen
from moetui.tui.state import RunState
from moetui.tui.store_commands import StoreCommands



class MoeTui(App):
    CSS_PATH = "app.tcss"
    TITLE = "moetui"
    MODES = {"runs": RunsScreen, "launch": LaunchScreen, "queue": QueueScreen}
    DEFAULT_MODE = "runs"
    COMMANDS = App.COMMANDS | {StoreCommands}
    # The F-keys are the same actions for browsers (`moetui serve`), which keep ctrl+n, ctrl+t
    # and ctrl+q for themselves; the footer shows the first key, the help (? or F1) all.
    # Priority: the screen changes as the key arrives, so keys typed right after it (ctrl+n,
    # ctrl+g, `dropout`) go to the new screen, not to the old one's table while it bubbles.
    BINDINGS = [
        Binding("ctrl+r,f2", "switch_mode('runs')", "Runs", priority=True),
        Binding("ctrl+n,f3", "switch_mode('launch')", "Launch", priority=True),
        Binding("ctrl+t,f4", "switch_mode('queue')", "Queue", priority=True),
        Binding("question_mark,f1", "help", "Help", show=False),
        Binding("f10", "quit", "Quit", show=False),
    ]

    def __init__(self, store: Any, *, scan_interval: float = 0.5, redraw_interval: float = 0.5,
                 export_dir: Path | None = None, sampler: Sampler | None = None,
                 hardware_interval: float = 2.0) -> None:
        super().__init__()
        self.store = store
        self.scan_interval = scan_interval
        self.redraw_interval = redraw_interval
        self.export_dir = export_dir or Path.cwd()
        self.sampler = sampler or HostSampler()  # tests hand in a fixed sample
        self.hardware_interval = hardware_interval
        self.state = RunState()
        self.chart_settings = chart_settings.load()  # the run view's, shared by every run opened
        self.marked: list[str] = []
        self.processes: dict[str, Any] = {}  # runs this TUI launched: their Popen
        self._piped: set[str] = set()
        self._stop_feeds = threading.Event()
        self._opened = time.time()  # errors older than this are history, not news

    # ---- feeds ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        watcher = StoreWatcher(self.store, self._piped, self.post_message)
        self.run_worker(partial(watch_store, watcher, self.scan_interval, self._stop_feeds),
                        thread=True, name="store watcher", group="feeds")
        engines = partial(self._local_engines, this_host())
        self.run_worker(partial(sample_hardware, self.sampler, engines, self.post_message, self.hardware_interval,
                                self._stop_feeds), thread=True, name="hardware sampler", group="feeds")

    def _local_engines(self, host: str) -> list[int]:
        return list(local_engines(self.state.records.values(), host).values())

    def on_unmount(self) -> None:
        self._stop_feeds.set()

    @on(StoreScanned)
    def _scanned(self, message: StoreScanned) -> None:
        before = {run_id: record.status for run_id, record in self.state.records.items()}
        self.state.set_records(message.records)
        for record in message.records:
            was = before.get(record.id)
            if was is not None and was != record.status and record.status in status.BAD:
                self.notify(f"{record.name} {record.status}: {record.exit_reason or 'see its engine.log'}",
                            title="Run ended badly", severity="error", timeout=10)
        self.marked = [run_id for run_id in self.marked if run_id in self.state.records]

    @on(HardwareSampled)
    def _hardware_sampled(self, message: HardwareSampled) -> None:
        self.state.add_hardware(message.sample, this_host())

    @on(RunEvents)
    def _events(self, message: RunEvents) -> None:
        self.state.add_events(message.run_id, message.events, message.reset)
        for event in message.events:
            if event.get("type") == "error" and (event.get("t") or 0) >= self._opened:
                name = self.run_name(message.run_id)
                hint = f" {event['hint']}" if event.get("hint") else ""
                self.notify(f"{name}: {event.get('message')}.{hint}", title=f"Engine error ({event.get('kind')})",
                            severity="error", timeout=10)

    @on(EngineExited)
    def _exited(self, message: EngineExited) -> None:
        self.processes.pop(message.run_id, None)
        if message.returncode and self.state.history(message.run_id).start is None:
            lines = tail_lines(self.store.path(message.run_id) / LOG_FILE, max_lines=3)
            reason = " / ".join(lines) or f"exit code {message.returncode}"
            self.notify(f"{self.run_name(message.run_id)}: {reason}", title="Engine failed to start",
                        severity="error", timeout=15)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Always as plain text (screens' `notify` asks for markup by default): messages carry
        run names, paths and engine errors, and a run named `[/b]` must not crash the app."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def run_name(self, run_id: str) -> str:
        record = self.state.records.get(run_id)
        return record.name if record else run_id

    # ---- run actions (screens call these) ------------------------------------------------
    def launch_run(self, run_id: str, resume: bool = False, force: bool = False) -> bool:
        """Start the engine for a stored run and follow its stdout pipe."""
        self._piped.add(run_id)
        try:
            process = launcher.launch(self.store, run_id, resume=resume, force=force)
        except (OSError, launcher.LaunchError) as error:
            self._piped.discard(run_id)
            self.notify(f"{self.run_name(run_id)}: {error}", title="Engine failed to start", severity="error")
            return False
        self._follow(run_id, process)
        return True

    def start_new_run(self, config: Config, preset: str | None, name: str | None = None, **labels: Any) -> str | None:
        """Create and start a run in one step (`launcher.start_new`), so the scheduler never
        sees it queued; returns its id, or None after telling the person why it did not start.
        `name`: the person's (else the preset's), made unique; `labels`: the run's `notes` and `tags`."""
        try:
            record, process = launcher.start_new(self.store, config, name=name or preset, preset=preset, **labels)
        except (OSError, MoetuiError) as error:
            self.notify(str(error), title="Engine failed to start", severity="error")
            return None
        self._follow(record.id, process)
        return record.id

    def hand_to_slurm(self, submit: Callable[[], tuple[list[RunRecord], list[str]]], what: str) -> None:
        """Check and submit in a worker thread (sbatch asks slurmctld, which can take seconds
        on a busy cluster), then say how it went: the jobs, Slurm's warnings, or why not."""

        def done(records: list[RunRecord], warnings: list[str]) -> None:
            for warning in warnings:
                self.notify(warning, title="Slurm", severity="warning", timeout=15)
            jobs = ", ".join(record.job_id or "?" for record in records)
            self.notify(f"Submitted {what} to Slurm: {'job' if len(records) == 1 else 'jobs'} {jobs}.")
            self.rescan()

        def work() -> None:
            try:
                records, warnings = submit()
            except (OSError, MoetuiError) as error:
                self.call_from_thread(self.notify, str(error), title=f"Cannot submit {what} to Slurm",
                                      severity="error", timeout=15)
                return
            self.call_from_thread(done, records, warnings)

        self.run_worker(work, thread=True, name="slurm submit", group="slurm")

    def _follow(self, run_id: str, process: subprocess.Popen | None) -> None:
        if process is None:  # a Slurm job: its events come through the store, as any run's not started here
            return
        self._piped.add(run_id)
        self.processes[run_id] = process
        events_path = self.store.path(run_id) / EVENTS_FILE
        self.run_worker(partial(follow_pipe, run_id, events_path, process, self.post_message, self._stop_feeds),
                        thread=True, name=f"pipe {run_id}", group="feeds")

    def resume_run(self, run_id: str) -> None:
        record = self.state.records.get(run_id)
        if record is not None and record.status == status.STALLED and record.host != this_host():
            self.push_screen(Confirm(f"{record.name} runs on {record.host}, which shows no progress "
                                     f"({record.exit_reason}). Resume it here anyway? Only if that host "
                                     "or its engine is gone for good."), partial(self._resume, run_id, True))
            return
        if record is not None and record.status in status.ACTIVE:
            self.notify(f"{record.name} is {record.status}; nothing to resume.", severity="warning")
            return
        if record is not None and record.status == status.COMPLETED:  # its checkpoint is at max_steps
            self._ask_more_steps(run_id, f"{record.name} completed all its steps: nothing to resume. "
                                         "Continue it as a new run for how many more steps?")
            return
        self._resume(run_id, False, True)

    def _resume(self, run_id: str, force: bool, yes: bool | None) -> None:
        if yes and self.launch_run(run_id, resume=True, force=force):
            self.notify(f"Resuming {self.run_name(run_id)}.")

    def continue_run(self, run_id: str) -> None:
        """Ask for N, then train a completed or stopped run N more steps as a new run."""
        record = self.state.records.get(run_id)
        if record is None:
            return
        if record.status not in launcher.CONTINUABLE:
            self.notify(f"{record.name} is {record.status}: only a completed or stopped run can be continued"
                        + (" (r resumes it)." if record.status in status.RESUMABLE else "."), severity="warning")
            return
        self._ask_more_steps(run_id, f"Continue {record.name} as a new run for how many more steps?")

    def _ask_more_steps(self, run_id: str, question: str) -> None:
        steps = self.state.history(run_id).max_steps or 100  # as many again, by default
        hint = "a new run from its checkpoint, at the lr it ended with"
        self.push_screen(Prompt(question, str(steps), hint), partial(self._continue, run_id))

    def _continue(self, run_id: str, answer: str | None) -> None:
        if not answer:
            return
        if not answer.isdigit() or int(answer) < 1:
            self.notify(f"{answer!r} is not a number of steps: type a whole number, e.g. 500.", severity="error")
            return
        try:
            record, process = launcher.continue_run(self.store, run_id, int(answer))
        except (OSError, MoetuiError, ConfigError) as error:
            self.notify(str(error), title=f"Cannot continue {self.run_name(run_id)}", severity="error")
            return
        self._follow(record.id, process)
        self.notify(f"Continuing {self.run_name(run_id)} as {record.name} for {answer} more steps.")
        self.rescan()
        self.open_run(record.id)

    def confirm_stop(self, run_id: str) -> None:
        record = self.state.records.get(run_id)
        if record is None or record.status not in status.LIVE:
            self.notify(f"{self.run_name(run_id)} is not running.", severity="warning")
            return

        def stop(yes: bool | None) -> None:
            if yes:
                self.stop_run(run_id)

        self.push_screen(Confirm(f"Stop {record.name}? It checkpoints and can be resumed."), stop)

    def stop_run(self, run_id: str) -> None:
        """Stop a running run or take a queued one off the queue (`launcher.stop` decides which)."""
        try:
            done = launcher.stop(self.store, run_id)
        except (OSError, MoetuiError) as error:
            self.notify(f"Cannot stop {self.run_name(run_id)}: {error}", severity="error")
            return
        self.notify(done[0].upper() + done[1:] + ".")
        self.rescan()

    def confirm_delete(self, run_id: str) -> None:
        record = self.state.records.get(run_id)
        if record is None:
            return
        if record.status in status.LIVE:
            self.notify(f"{record.name} is {record.status}: stop it first.", severity="warning")
            return

        def delete(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.store.delete(run_id)
            except (OSError, MoetuiError) as error:
                self.notify(f"Cannot delete {record.name}: {error}", severity="error")
                return
            self.notify(f"Deleted {record.name}.")

        self.push_screen(Confirm(f"Delete {record.name} and all its files?"), delete)

    def rescan(self) -> None:
        """List the store now (after this TUI changed it), not at the watcher's next poll."""
        self.state.set_records(self.store.list())

    def toggle_mark(self, run_id: str) -> None:
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked.append(run_id)
        self.state.version += 1

    def open_run(self, run_id: str) -> None:
        self.push_screen(RunScreen(run_id))

    async def clone_run(self, run_id: str) -> None:
        """The launch form holding a run's config as edits over its preset, to launch it again
        changed or not (the form asks before dropping edits it holds)."""
        record = self.state.records.get(run_id)
        if record is None:
            return
        config, problem = read_run_config(self.store.path(run_id))
        if config is None:
            self.notify(f"Cannot clone {record.name}: {problem}", severity="error")
            return
        await self.switch_mode("launch")
        self.screen.load_run(record.name, config, record.preset, record.tags)

    def edit_notes(self, run_id: str) -> None:
        """The run's notes and tags in an editor; what is saved goes to its run.json."""
        record = self.state.records.get(run_id)
        if record is None:
            return

        def save(change: dict[str, Any] | None) -> None:
            if change is None:
                return
            try:
                notes.annotate(self.store, run_id, **change)
            except (OSError, MoetuiError) as error:
                self.notify(f"Cannot change {record.name}'s notes: {error}", severity="error")
                return
            self.rescan()

        self.push_screen(NotesEditor(record.name, record.notes, record.tags), save)

    async def open_preset(self, name: str) -> None:
        """The launch form on preset `name`, as if picked from its list (the palette's presets)."""
        await self.switch_mode("launch")
        options = self.screen.query_one("#presets", OptionList)
        options.highlighted = options.get_option_index(f"preset:{name}")
        options.action_select()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def open_compare(self) -> None:
        if len(self.marked) < 2:
            self.notify("Mark at least two runs with m to compare them.", severity="warning")
            return
        self.push_screen(CompareScreen(list(self.marked)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The key of the mode on show does nothing there; hiding it leaves the footer room
        # for the screen's own keys at 80 columns.
        if action == "switch_mode" and parameters and parameters[0] == self.current_mode:
            return False
        return True

    # ---- command palette: every key of the screen on show is also a command ---------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        seen = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            # The screen's keys the footer leaves out for room are commands too (a widget's
            # hidden cursor keys and the app's system keys are not).
            shown = binding.show or active.node is screen
            if not shown or not binding.description or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            yield SystemCommand(binding.description, f"{binding.description} ({self.get_key_display(binding)})",
                                partial(self.run_action, binding.action, active.node))
