"""`moetui bench PRESET|SHAPE`: the training paths of one config compared on this machine.

The measuring is `engine.bench` (it needs torch, so it runs as its own process); this
command resolves the preset as `moetui run` does -- `extends`, user presets, `--set` --
or a bench shape (engine.bench_shapes), so what is measured is exactly what would be
trained.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.bench_shapes import SHAPES, shape_config
from engine.config import Config
from moetui.backends.local import engine_env
from moetui.cli_common import Gpus, Sets, fields_help, user_errors
from moetui.cli_run import resolve
from moetui.launcher import parse_gpus
from moetui.spawn import child_env, python_command

_SHAPES_HELP = "; ".join(f"{name}: {shape.description}" for name, shape in SHAPES.items())


def _config(name: str, sets: list[str] | None) -> Config:
    """A bench shape by that name, else the preset (or TOML file) as `moetui run` reads it."""
    return shape_config(name, sets) if name in SHAPES else resolve(name, sets)[0]


@user_errors
def bench_command(
    preset: Annotated[str, typer.Argument(help=f"Preset name, path to a TOML file, or a bench shape ({_SHAPES_HELP})")],
    sets: Sets = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Timed optimizer steps per pass")] = 20,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed optimizer steps before each path")] = 3,
    vocab: Annotated[Optional[int], typer.Option(
        "--vocab", min=1, show_default=False,
        help="The tokenizer's size when data.tokenizer cannot be read here (a Hub name offline)")] = None,
    compiled: Annotated[bool, typer.Option("--compile", help="Also measure the model under torch.compile")] = False,
    json_file: Annotated[Optional[Path], typer.Option(
        "--json", metavar="FILE", show_default=False, help="Write every figure to FILE as JSON")] = None,
    gpus: Gpus = None,
) -> None:
    """Compare the per-expert loop, the default path, the dense model of equal active FLOPs
    (and with --compile the compiled model): tokens/s with and without a host read every
    step, ms/step by phase, peak memory, TFLOP/s and MFU, and the ratios."""
    config = _config(preset, sets)
    name = Path(preset).stem
    with tempfile.TemporaryDirectory(prefix="moetui-bench-") as folder:
        path = Path(folder) / f"{name}.toml"
        path.write_text(config.to_toml())
        args = ["--config", str(path), "--name", name, "--steps", str(steps), "--warmup", str(warmup)]
        args += ["--vocab", str(vocab)] if vocab is not None else []
        args += ["--compile"] if compiled else []
        args += ["--json", str(json_file.resolve())] if json_file is not None else []
        code = subprocess.call(python_command("engine.bench", *args),
                               env=child_env(engine_env(parse_gpus(gpus))))  # foreground: Ctrl-C reaches it
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("bench", epilog=fields_help())(bench_command)
