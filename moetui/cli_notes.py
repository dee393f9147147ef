"""`moetui note`, `moetui tag`: a researcher's words and labels on a run, after the fact.

What a run was for, or why it went wrong, is known only once it ran; these write it to
the run's run.json (as `n` on the TUI's runs table does), where the runs table shows it
and its filter finds it (`#tag`). A run's config and events are never touched.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from moetui import notes
from moetui.cli_common import RunsDir, store_from, user_errors

RunRef = Annotated[str, typer.Argument(help="Run id, unique id prefix, or name")]


@user_errors
def note_command(
    run: RunRef,
    text: Annotated[Optional[str], typer.Argument(help="The note (replaces the old one; \"\" clears it). "
                                                       "Without it, the note and tags are printed")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Write your note on a run, or print it with its tags."""
    store = store_from(runs_dir)
    record = store.get(run)
    if text is not None:
        record = notes.annotate(store, record.id, notes=notes.clean_note(text))
    typer.echo(record.notes or "(no note)")
    if record.tags:
        typer.echo(notes.hashtags(record.tags))


@user_errors
def tag_command(
    run: RunRef,
    tags: Annotated[list[str], typer.Argument(help="Tags to add (or remove), e.g. baseline fig2")],
    remove: Annotated[bool, typer.Option("--remove", "-r", help="Take these tags off instead")] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Add tags to a run (or take them off with --remove); prints the run's tags."""
    store = store_from(runs_dir)
    record = store.get(run)
    change = {"remove": tags} if remove else {"add": tags}
    record = notes.annotate(store, record.id, tags=notes.retag(record.tags, **change))
    typer.echo(notes.hashtags(record.tags) or "(no tags)")


def register(app: typer.Typer) -> None:
    app.command("note")(note_command)
    app.command("tag")(tag_command)
