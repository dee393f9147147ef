"""The `moetui` command: no subcommand opens the TUI; the subcommands script the same store.

One module per command group (`cli_run`, `cli_runs`, `cli_presets`, `cli_bench`,
`cli_serve`; the report's own
`moetui.report.command`), joined here. Nothing on this path imports torch or Textual:
the engine runs in its own process and the TUI is imported only when it opens.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from moetui import cli_bench, cli_presets, cli_run, cli_runs, cli_serve
from moetui import cli_continue
from moetui import cli_sample
from moetui import cli_notes
from moetui import cli_slurm
from moetui.report.command import report_command
from moetui.runs import RUNS_ENV, RunStore

app = typer.Typer(
    name="moetui",
    help="Train small Mixture-of-Experts LMs from the terminal: presets, live runs, queued studies, reports.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    runs_dir: Annotated[Optional[Path], typer.Option(
        "--runs-dir", help="Run store for every command (default: $MOETUI_RUNS, else ./runs)", show_default=False)] = None,
) -> None:
    """Without a command, open the TUI on the run store."""
    if runs_dir is not None:  # so that every subcommand (and the report) sees the same store
        os.environ[RUNS_ENV] = str(runs_dir)
    if ctx.invoked_subcommand is None:
        from moetui.tui import run_tui

        raise typer.Exit(run_tui(RunStore.from_env(runs_dir)))  # non-zero when the app crashed


cli_presets.register(app)
cli_run.register(app)
cli_runs.register(app)
cli_continue.register(app)
cli_bench.register(app)
cli_serve.register(app)
cli_sample.register(app)
cli_notes.register(app)
cli_slurm.register(app)
app.command("report")(report_command)


def main() -> None:
    app()
