"""`moetui continue` and `moetui attach`: train a finished run further, watch a detached one.

Continuing never touches the finished run: a new run (its `parent` the old one) starts
from a copy of its checkpoint (launcher.continue_run). Attaching is the foreground view
of `moetui run` for a run started elsewhere, with the same Ctrl-C question.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from moetui import launcher
from moetui.cli_common import Gpus, RunsDir, Sets, store_from, user_errors
from moetui.cli_run import follow_or_detach, watch

RunRef = Annotated[str, typer.Argument(help="Run id, unique id prefix, or name")]


@user_errors
def continue_command(
    run: RunRef,
    steps: Annotated[int, typer.Option("--steps", "-n", min=1, help="How many more optimizer steps to train")],
    sets: Sets = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Name of the new run (default: RUN+STEPS)")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start it and return at once")] = False,
    gpus: Gpus = None,
    runs_dir: RunsDir = None,
) -> None:
    """Train a completed or stopped run for N more steps, as a new run from its checkpoint.

    The new run has the parent's config and optimizer state, at a constant learning rate at
    the parent's floor (the lr its schedule ended at) with no warmup; --set schedule.* keeps
    the parent's schedule instead, and --set optim.muon_lr=... picks another lr. The parent
    is never changed."""
    store = store_from(runs_dir)
    parent = store.get(run)
    record, process = launcher.continue_run(store, parent.id, steps, sets, name=name, gpu=gpus, pipe=not detach)
    if not detach:
        typer.echo(f"continuing {parent.name} as {record.name} ({record.id})", err=True)
    follow_or_detach(store, record.id, process, detach)


@user_errors
def attach_command(run: RunRef, runs_dir: RunsDir = None) -> None:
    """The live view of a run started elsewhere (--detach, the queue, the TUI) until it ends;
    Ctrl-C asks whether to stop it or detach again."""
    store = store_from(runs_dir)
    watch(store, store.get(run).id, None)


def register(app: typer.Typer) -> None:
    app.command("continue")(continue_command)
    app.command("attach")(attach_command)
