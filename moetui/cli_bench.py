"""`moetui bench PRESET`: training throughput of a preset on this machine.

The measuring is `engine.bench` (it needs torch, so it runs as its own process); this
command resolves the preset as `moetui run` does — `extends`, user presets, `--set` —
so what is measured is exactly what would be trained.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from moetui.cli_common import Gpus, Sets, fields_help, user_errors
from moetui.cli_run import resolve
from moetui.backends.local import engine_env
from moetui.launcher import parse_gpus
from moetui.spawn import child_env, python_command


@user_errors
def bench_command(
    preset: Annotated[str, typer.Argument(help="Preset name or path to a TOML file")],
    sets: Sets = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Timed optimizer steps")] = 20,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed optimizer steps first")] = 3,
    gpus: Gpus = None,
) -> None:
    """Print tokens/s, ms/step, TFLOP/s and MFU of full optimizer steps on random tokens."""
    config, _ = resolve(preset, sets)
    with tempfile.TemporaryDirectory(prefix="moetui-bench-") as folder:
        path = Path(folder) / f"{Path(preset).stem}.toml"
        path.write_text(config.to_toml())
        command = python_command("engine.bench", "--config", str(path), "--steps", str(steps), "--warmup", str(warmup))
        code = subprocess.call(command, env=child_env(engine_env(parse_gpus(gpus))))  # foreground: Ctrl-C reaches it
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("bench", epilog=fields_help())(bench_command)
