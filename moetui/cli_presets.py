"""`moetui presets` and `moetui config`: what can be run, and what a preset resolves to."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from moetui import presets
from moetui.cli_common import Sets, fields_help, user_errors
from moetui.cli_run import resolve


@user_errors
def presets_command() -> None:
    """List presets and studies with their descriptions."""
    console = Console()
    table = Table("preset", "description", title="Presets (moetui run NAME)", title_justify="left", box=None)
    for name, description in presets.list_presets().items():
        try:  # a preset that cannot run (a cycle, a missing parent, a bad key) is listed as broken
            presets.load_preset(name)
            table.add_row(Text(name), Text(description))
        except presets.PresetError as e:
            table.add_row(Text(name), _broken(e))
    console.print(table)
    studies = Table("study", "base", "variants", "description", title="Studies (moetui study NAME)",
                    title_justify="left", box=None)
    for name, description in presets.list_studies().items():
        try:
            study = presets.load_study(name)
            studies.add_row(Text(name), Text(study.base), str(len(study.variants)), Text(description))
        except presets.PresetError as e:
            studies.add_row(Text(name), "?", "?", _broken(e))
    console.print()
    console.print(studies)
    console.print(Text(f"\nBuilt-in: {presets.builtin_presets_dir()}   yours: {presets.user_presets_dir()}",
                       style="dim"))


def _broken(error: presets.PresetError) -> Text:
    """Names and descriptions are Text, not markup: a file's own `[model]` or `[/x]` would be
    read as a style and end the listing with a MarkupError."""
    return Text.assemble(("broken: ", "red"), str(error))


_ESCAPED = {code: f"\\x{code:02x}" for code in (*range(0x09), *range(0x0a, 0x20), 0x7f)}


def _comment(text: str) -> str:
    """`text` as TOML comment lines; control characters, which TOML forbids even in
    comments, written as escapes."""
    return "\n".join("# " + line.translate(_ESCAPED) for line in text.splitlines() or [""])


@user_errors
def config_command(
    preset: Annotated[str, typer.Argument(help="Preset name or .toml file")],
    sets: Sets = None,
) -> None:
    """Print the full resolved config of a preset (with overrides) as TOML.

    The output is the engine's input (python -m engine --config FILE) and a valid preset:
    save it, edit it, run it with moetui run FILE.toml. The description goes in a comment,
    since the engine knows only config tables."""
    config, meta = resolve(preset, sets)
    chain = " <- ".join((meta.name, *meta.extends))
    typer.echo(_comment(chain + (f" with {' '.join(sets)}" if sets else "")))
    if meta.description:
        typer.echo(_comment(meta.description))
    typer.echo(config.to_toml(), nl=False)


def register(app: typer.Typer) -> None:
    app.command("presets")(presets_command)
    app.command("config", epilog=fields_help())(config_command)
