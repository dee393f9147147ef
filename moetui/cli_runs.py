"""`moetui ls`, `show`, `logs`, `stop`, `rm`: look at and manage runs in the store."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from engine.config import Config, ConfigError, config_diff
from engine.rundir import CHECKPOINT_FILE, CONFIG_FILE, EVENTS_FILE, LOG_FILE
from moetui import launcher, presets, status as statuses
from moetui.cli_common import RunsDir, fail, store_from, user_errors
from moetui.history import load_history
from moetui.live import summary
from moetui.report.run_config import read_run_config
from moetui.runs import RunNotFound, RunRecord, RunStore
from moetui.tui.progress import clock, number

RunRef = Annotated[str, typer.Argument(help="Run id, unique id prefix, or name")]


def _when(stamp: float | None) -> str:
    if not stamp:
        return "–"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
    except (OverflowError, OSError, ValueError):  # a hand-edited run.json: a year past 9999
        return f"{stamp!r} (not a time)"


def _group(record: RunRecord) -> str:
    return "/".join(p for p in (record.study, record.variant) if p) or "–"


@user_errors
def ls_command(
    study: Annotated[Optional[str], typer.Option("--study", help="Only runs of this study")] = None,
    status: Annotated[Optional[str], typer.Option("--status", help=f"Only runs with this status: {', '.join(statuses.ALL)}")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """List runs, oldest first (ids start with their creation time), with progress and val loss."""
    if status is not None and status not in statuses.ALL:
        raise fail(f"--status {status!r}: not a run status; use one of {', '.join(statuses.ALL)}")
    store = store_from(runs_dir)
    records = [r for r in store.list() if (study is None or r.study == study) and (status is None or r.status == status)]
    if not records:
        typer.echo("no runs" + (" match" if study or status else f" in {store.root}"), err=True)
        return
    rows = []
    for record in records:
        history = load_history(record.path / EVENTS_FILE)
        step = f"{history.last_step}/{history.max_steps}" if history.max_steps else "–"
        rows.append([record.id, record.name, _group(record), record.status, step,
                     number(history.val_loss[-1] if history.val_loss else None)])
    headers = ["id", "name", "study/variant", "status", "step", "val loss"]
    console = Console(markup=False)  # names are the user's text: "[b]" in one is not markup
    if _width(headers, rows) > console.width:  # ids end with the name, which holds study and variant
        keep = [i for i, header in enumerate(headers) if header not in _IN_ID]
        headers, rows = [headers[i] for i in keep], [[row[i] for i in keep] for row in rows]
    table = Table(box=None, pad_edge=False)
    for header in headers:  # no_wrap: an id must stay whole, to be copied into the next command
        table.add_column(header, no_wrap=True)
    if any(record.damaged for record in records):  # why, cut to the room left (`show` has it whole)
        room = console.width - _width(headers, rows) - 2
        table.add_column("problem", no_wrap=True, overflow="ellipsis", max_width=max(room, _MIN_PROBLEM))
        rows = [[*row, record.exit_reason or ""] if record.damaged else [*row, ""]
                for row, record in zip(rows, records)]
    for row in rows:
        table.add_row(*row)
    console.print(table)


_IN_ID = ("name", "study/variant")
_MIN_PROBLEM = 16


def _width(headers: list[str], rows: list[list[str]]) -> int:
    """Characters a table of these columns needs (Rich puts two spaces between columns)."""
    return sum(max(len(v) for v in column) for column in zip(headers, *rows)) + 2 * (len(headers) - 1)


@user_errors
def show_command(run: RunRef, runs_dir: RunsDir = None) -> None:
    """A run's record, status and final metrics, its changes from its preset, and its full config."""
    store = store_from(runs_dir)
    record = store.get(run)
    history = load_history(record.path / EVENTS_FILE)
    config, config_problem = read_run_config(record.path)
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = {
        "id": record.id, "name": record.name, "status": record.status, "preset": record.preset or "–",
        "study/variant": _group(record), "seed": _or_dash(record.seed), "device": record.device or "–",
        "host / pid": f"{record.host or '–'} / {record.pid or '–'}", "git commit": record.git_commit or "–",
        "created": _when(record.created), "started": _when(record.started), "last resumed": _when(record.resumed),
        "ended": _when(record.ended),
        "damaged" if record.damaged else "exit reason": record.exit_reason or "–", "path": str(record.path),
        "checkpoint": "yes" if (record.path / CHECKPOINT_FILE).is_file() else "no",
    }
    if record.job_id:
        rows["job"] = f"{record.backend} job {record.job_id}"
    if record.parent:
        rows["continues"] = _parent(store, record.parent)
    if record.notes or record.tags:
        rows["notes / tags"] = " ".join([record.notes or "", *(f"#{tag}" for tag in record.tags or [])]).strip()
    if history.start:
        rows["params"] = (f"{_or_dash(history.params_total, ',')} total, "
                          f"{_or_dash(history.params_active, ',')} active per token")
        rows["progress"] = summary(history, record.name)
        rows["train loss"] = number(history.loss[-1] if history.loss else None)
        if history.val_loss:
            rows["val loss / acc / ppl"] = (f"{number(history.val_loss[-1])} / {number(history.val_accuracy[-1], 3)}"
                                            f" / {number(history.val_perplexity[-1], 1)}")
        if history.tokens_per_s:
            rows["tokens/s"] = f"{history.tokens_per_s[-1]:,.0f}"
        rows["wall time"] = clock(history.wall_time)
    rows["changes from preset"] = _changes(record, config) if config else "(config unreadable)"
    for key, value in rows.items():
        table.add_row(key, value)
    Console(markup=False).print(table)  # names and reasons are text, never markup
    if config is None:
        typer.echo(f"\n(config unreadable: {config_problem})")
    else:  # TOML as the store wrote it before launch, ready to save as a preset
        typer.echo(f"\n# config ({record.path / CONFIG_FILE})\n{config.to_toml().rstrip()}")


def _parent(store: RunStore, parent_id: str) -> str:
    """The run this one continues, by name and id (`moetui continue`); it may be deleted since."""
    try:
        return f"{store.get(parent_id).name} ({parent_id})"
    except RunNotFound:
        return f"{parent_id} (deleted)"


def _or_dash(value: object, spec: str = "") -> str:
    return "–" if value is None else format(value, spec)


def _changes(record: RunRecord, config: Config) -> str:
    """What the run's config changes from its preset, e.g. `model.dropout 0.1 → 0.05`."""
    if not record.preset:
        return "–"
    try:
        diff = config_diff(presets.load_preset(record.preset)[0], config)
    except (presets.PresetError, ConfigError, OSError) as e:
        return f"(cannot compare: {e})"
    return "\n".join(f"{key} {old!r} → {new!r}" for key, old, new in diff) or "none"


@user_errors
def logs_command(
    run: RunRef,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Print a run's engine.log (its stderr: data preparation, progress, errors)."""
    store = store_from(runs_dir)
    record = store.get(run)
    path = record.path / LOG_FILE
    offset = 0
    while True:
        if path.is_file():
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
            offset += len(data)
            typer.echo(data.decode(errors="replace"), nl=False)
        if not follow or store.get(record.id).status not in statuses.ACTIVE:
            return
        time.sleep(0.5)


@user_errors
def stop_command(
    run: RunRef,
    wait: Annotated[float, typer.Option(help="Seconds to wait for it to checkpoint and end (0: do not wait)")] = 120,
    runs_dir: RunsDir = None,
) -> None:
    """Stop a running run (it saves a checkpoint; resume it later) or cancel a queued one."""
    store = store_from(runs_dir)
    record = store.get(run)
    typer.echo(launcher.stop(store, record.id), err=True)
    if wait <= 0 or record.status == statuses.QUEUED:
        return
    ended = launcher.wait_until_ended(store, record.id, wait)
    if ended is None:
        raise fail(f"run {record.name} is still running after {wait:g}s; check it with: moetui show {record.id}")
    checkpoint = "with a checkpoint" if (ended.path / CHECKPOINT_FILE).is_file() else "without a checkpoint"
    typer.echo(f"{ended.name} {ended.status} {checkpoint}: {ended.exit_reason or ''}".rstrip(": "))


@user_errors
def rm_command(
    runs: Annotated[list[str], typer.Argument(help="Run ids, id prefixes or names")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    force: Annotated[bool, typer.Option("--force", help="Also delete stalled runs of another host")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Delete runs and all their files (live runs must be stopped first)."""
    store = store_from(runs_dir)
    store.check_writable()
    records = [store.get(ref) for ref in runs]  # every name resolves before anything is deleted
    busy = [r for r in records if r.status in statuses.LIVE and not (force and r.status == statuses.STALLED)]
    if busy:
        raise fail(f"run {busy[0].name} is {busy[0].status}; stop it first: moetui stop {busy[0].id}")
    names = ", ".join(r.id for r in records)
    if not yes and not typer.confirm(f"delete {names} and all their files?", default=False):
        raise fail("nothing deleted")
    for record in records:
        store.delete(record.id, force=force)
    typer.echo(f"deleted {names}", err=True)


def register(app: typer.Typer) -> None:
    app.command("ls")(ls_command)
    app.command("show")(show_command)
    app.command("logs")(logs_command)
    app.command("stop")(stop_command)
    app.command("rm")(rm_command)
