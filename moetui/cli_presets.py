"""`moetui presets` and `moetui config`: what can be run, and what a preset resolves to."""

from __future__ import annotations

from typing import Annotated

import tomli_w
import typer
from rich.console import Console
from rich.table import Table

from moetui import presets
from moetui.cli_common import Sets, fields_help, user_errors
from moetui.cli_run import resolve


@user_errors
def presets_command() -> None:
    """List presets and studies with their descriptions."""
    console = Console()
    table = Table("preset", "description", title="Presets (moetui run NAME)", title_justify="left", box=None)
    for name, description in presets.list_presets().items():
        table.add_row(name, description)
    console.print(table)
    studies = Table("study", "base", "variants", "description", title="Studies (moetui study NAME)",
                    title_justify="left", box=None)
    for name, description in presets.list_studies().items():
        try:
            study = presets.load_study(name)
            studies.add_row(name, study.base, str(len(study.variants)), description)
        except presets.PresetError as e:
            studies.add_row(name, "?", "?", f"[red]broken:[/red] {e}")
    console.print()
    console.print(studies)
    console.print(f"\nBuilt-in: {presets.builtin_presets_dir()}   yours: {presets.user_presets_dir()}", style="dim")


@user_errors
def config_command(
    preset: Annotated[str, typer.Argument(help="Preset name or .toml file")],
    sets: Sets = None,
) -> None:
    """Print the full resolved config of a preset (with overrides) as TOML.

    The output is itself a valid preset: save it, edit it, run it with moetui run FILE.toml."""
    config, meta = resolve(preset, sets)
    chain = " <- ".join((meta.name, *meta.extends))
    typer.echo(f"# {chain}" + (f" with {' '.join(sets)}" if sets else ""))
    typer.echo(tomli_w.dumps({"description": meta.description, **config.to_dict()}), nl=False)


def register(app: typer.Typer) -> None:
    app.command("presets")(presets_command)
    app.command("config", epilog=fields_help())(config_command)
