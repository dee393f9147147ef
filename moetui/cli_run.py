"""`moetui run`, `moetui resume`, `moetui study`: put runs in the store and start them.

Everything a person typed is checked (preset, overrides, GPUs) before the store is
touched, so a mistake leaves no half-made run behind.
"""

from __future__ import annotations

import subprocess
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from engine.config import Config
from engine.rundir import EVENTS_FILE
from moetui import launcher, live, preflight, presets, scheduler
from moetui import cli_slurm, estimate, notes, study_preview
from moetui.cli_common import Gpus, RunsDir, Sets, fail, fields_help, store_from, user_errors
from moetui.errors import MoetuiError
from moetui.history import EventTail, RunHistory
from moetui.runs import RunStore
from moetui.slurm_config import SlurmOptions
from moetui.status import ACTIVE

END_OK = ("completed", "stopped")
Note = Annotated[Optional[str], typer.Option(
    "--note", metavar="TEXT", help="Your note on the run (shown by the TUI, found by its filter)")]
Tags = Annotated[Optional[list[str]], typer.Option(
    "--tag", "-t", metavar="TAG", help="A tag for the run, e.g. --tag lr-sweep (repeatable)")]


def resolve(preset: str, sets: list[str] | None) -> tuple[Config, presets.PresetMeta]:
    """A preset with the command line's overrides applied and checked."""
    config, meta = presets.load_preset(preset)
    return config.apply_overrides(sets or [], "--set").validate("--set"), meta


def watch(store: RunStore, run_id: str, process: subprocess.Popen | None) -> None:
    """Follow a run in the foreground: one this command started (its new events, woken by its
    pipe), or with no `process` one started elsewhere (`moetui attach`: its whole events
    file, polled while the run is active). Ctrl-C asks whether to stop it or leave it running."""
    name = store.get(run_id).name
    console = Console()
    history = RunHistory()
    events_path = store.path(run_id) / EVENTS_FILE
    tail = live.tail_from_now(events_path) if process else EventTail(events_path)
    pipe = process.stdout if process else None
    while True:
        try:
            live.follow(pipe, tail, history, name, console, lambda: store.get(run_id).status in ACTIVE)
            break
        except KeyboardInterrupt:
            if not _stop_or_detach(store, run_id):
                if pipe:
                    pipe.close()
                typer.echo(f"detached; {name} keeps training. Watch it again with: moetui attach {run_id}")
                return
    if process:
        process.wait()
    typer.echo(live.summary(history, name))
    status = store.get(run_id).status
    if status not in END_OK:
        raise fail(f"run {name} {status}: {store.get(run_id).exit_reason or 'see moetui logs ' + run_id}")


def _stop_or_detach(store: RunStore, run_id: str) -> bool:
    """True when the person chose to stop the run (it checkpoints first)."""
    try:
        answer = typer.prompt("\nstop the run (it checkpoints) or detach (it keeps training)? [s/d]",
                              default="s", show_default=False)
    except (typer.Abort, EOFError, KeyboardInterrupt):
        answer = "d"  # a second Ctrl-C or no stdin: leave the run alone
    if not answer.strip().lower().startswith("s"):
        return False
    try:
        typer.echo(launcher.stop(store, run_id))
    except launcher.LaunchError as e:  # it ended while the question was open: show how
        typer.echo(str(e))
    return True


def follow_or_detach(store: RunStore, run_id: str, process: subprocess.Popen | None, detach: bool) -> None:
    """After a start: the id and how to watch it (--detach), else the foreground view. No
    `process`: the run was submitted to a cluster (Slurm) and is followed by its events."""
    if detach:
        typer.echo(run_id)
        how = f"pid {process.pid}" if process else f"job {store.get(run_id).job_id}"
        typer.echo(f"started in the background ({how}); watch it with: moetui attach {run_id}", err=True)
        return
    watch(store, run_id, process)


@user_errors
@cli_slurm.slurm_flags()
def run_command(
    preset: Annotated[str, typer.Argument(help="Preset name (see moetui presets) or a .toml file")],
    sets: Sets = None,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Run name (default: the preset's)")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start it and return at once")] = False,
    queue: Annotated[bool, typer.Option("--queue", "-q", help="Add it to the queue (started when a device is free)")] = False,
    gpus: Gpus = None,
    note: Note = None,
    tags: Tags = None,
    runs_dir: RunsDir = None,
    on_slurm: SlurmOptions | None = None,
) -> None:
    """Train a preset, with a live view (Ctrl-C: stop or detach)."""
    config, meta = resolve(preset, sets)
    labels = {"notes": notes.clean_note(note), "tags": notes.clean_tags(tags or [])}
    if on_slurm is None:
        _check_gpus(config, gpus)
    elif queue:
        raise MoetuiError("--queue is this machine's queue and --slurm is Slurm's", "give one of them")
    store = store_from(runs_dir)
    store.check_writable()
    if on_slurm is not None:
        record = cli_slurm.submit(store, config, on_slurm, gpus, name=name or meta.name, preset=meta.name, **labels)
        follow_or_detach(store, record.id, None, detach)
        return
    if queue:
        record = store.create(config, name=name or meta.name, preset=meta.name, **labels)
        scheduler.ensure_scheduler(store, gpus)
        typer.echo(record.id)
        typer.echo(f"queued {record.name}; see the queue with: moetui ls --status queued", err=True)
        return
    record, process = launcher.start_new(store, config, gpu=gpus, pipe=not detach, name=name or meta.name,
                                         preset=meta.name, **labels)
    follow_or_detach(store, record.id, process, detach)


@user_errors
def resume_command(
    run: Annotated[str, typer.Argument(help="Run id, id prefix or name")],
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Resume it and return at once")] = False,
    force: Annotated[bool, typer.Option("--force", help="Resume a run of another host that looks stalled "
                                                       "(only when that host or its engine is gone for good)")] = False,
    gpus: Gpus = None,
    runs_dir: RunsDir = None,
) -> None:
    """Continue a stopped, failed, diverged or crashed run from its checkpoint to max_steps."""
    store = store_from(runs_dir)
    record = store.get(run)
    process = launcher.launch(store, record.id, resume=True, gpu=gpus, pipe=not detach, force=force)
    follow_or_detach(store, record.id, process, detach)


def _check_gpus(config: Config, gpus: str | None) -> None:
    """`--gpus` must name GPUs that are here, unless the run trains on the CPU
    (`train.device=cpu`), where `--gpus 0,1` means two data-parallel CPU ranks."""
    chosen = launcher.parse_gpus(gpus)
    if config.train.device != "cpu":
        preflight.require_gpus(chosen)


def _seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words or not all(w.isdigit() for w in words):
        raise presets.PresetError(f"--seeds {text!r}: expected whole numbers separated by commas", "e.g. --seeds 1,2,3")
    return [int(w) for w in words]


@user_errors
@cli_slurm.slurm_flags()
def study_command(
    study: Annotated[str, typer.Argument(help="Study name (see moetui presets)")],
    base: Annotated[Optional[str], typer.Option("--base", "-b", help="Run the variants on this preset instead of the study's base")] = None,
    seeds: Annotated[Optional[str], typer.Option("--seeds", metavar="1,2,3", help="Run every variant once per seed (default: the study's seeds)")] = None,
    sets: Sets = None,
    gpus: Gpus = None,
    note: Note = None,
    tags: Tags = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show the runs it would queue, what each "
                                          "variant overrides and the estimated time; write nothing")] = False,
    runs_dir: RunsDir = None,
    on_slurm: SlurmOptions | None = None,
) -> None:
    """Queue every variant of a study (x seeds); the scheduler runs them one per GPU, or Slurm (--slurm)."""
    spec = presets.load_study(study)
    base_config, meta = resolve(base or spec.base, sets)
    labels = {"notes": notes.clean_note(note), "tags": notes.clean_tags(tags or [])}
    if on_slurm is None:
        _check_gpus(base_config, gpus)
    if dry_run:
        _dry_run(spec, meta.name, base_config, sets, _seeds(seeds), gpus, store_from(runs_dir))
        return
    runs = presets.study_configs(spec, base=base_config, seeds=_seeds(seeds), gpus_here=on_slurm is None)
    store = store_from(runs_dir)
    store.check_writable()
    if on_slurm is not None:
        records = cli_slurm.submit_study(store, spec, meta.name, runs, on_slurm, gpus, **labels)
        done = f"{len(records)} runs submitted to Slurm, one job each."
    else:
        records = scheduler.enqueue(store, spec.name, meta.name, runs)
        if labels["notes"] or labels["tags"]:
            records = [notes.annotate(store, record.id, **labels) for record in records]
        pid = scheduler.ensure_scheduler(store, gpus)
        done = f"{len(records)} runs queued; scheduler {'started' if pid else 'already running'}."
    table = Table("id", "variant", "seed", title=f"queued study {spec.name} on {meta.name}", title_justify="left")
    for record in records:
        table.add_row(record.id, record.variant, str(record.seed))
    Console().print(table)
    typer.echo(f"{done} Watch with: moetui ls --study {spec.name}", err=True)


def _dry_run(spec: presets.Study, base_name: str, base: Config, sets: list[str] | None, seeds: list[int] | None,
             gpus: str | None, store: RunStore) -> None:
    """`study --dry-run`: the preview the TUI shows before queueing, printed; the store is only read."""
    records = store.list()
    here = launcher.parse_gpus(gpus) if gpus else scheduler.detect_gpus()
    found = study_preview.preview(spec, base_name, base, study_preview.edits_of(base, sets), seeds, records,
                                  estimate.measured_rates(records, store.root), here)
    typer.echo("\n".join(study_preview.lines(found)))
    typer.echo("dry run: nothing was queued", err=True)


def register(app: typer.Typer) -> None:
    epilog = fields_help()
    app.command("run", epilog=epilog)(run_command)
    app.command("resume")(resume_command)
    app.command("study", epilog=epilog)(study_command)
