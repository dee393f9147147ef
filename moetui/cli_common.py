"""What every command group shares: the store option, `--set`, the schema as help text,
and turning a user's mistake into one line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer
from rich.markup import escape

from engine.config import ConfigError, FieldSpec, format_value, iter_fields
from moetui.errors import MoetuiError
from moetui.runs import RunStore

F = TypeVar("F", bound=Callable[..., Any])

RunsDir = Annotated[Optional[Path], typer.Option(
    "--runs-dir", help="Run store (default: $MOETUI_RUNS, else ./runs)", show_default=False)]
Sets = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", metavar="KEY=VALUE", show_default=False,
    help="Override a config value, e.g. --set model.d_model=512 (repeatable; keys listed below)")]
Gpus = Annotated[Optional[str], typer.Option(
    "--gpus", metavar="0,1", show_default=False,
    help="GPU indices (CUDA_VISIBLE_DEVICES); several for one run = torchrun, for a queue = one run per GPU")]


def store_from(runs_dir: Path | None) -> RunStore:
    return RunStore.from_env(runs_dir)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say why on stderr in one line; the caller raises the returned Exit."""
    typer.echo(f"moetui: {message}", err=True)
    return typer.Exit(code)


def user_errors(command: F) -> F:
    """Mistakes a person can fix end the command with one line, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (MoetuiError, ConfigError) as e:
            raise fail(str(e)) from None

    return wrapper  # type: ignore[return-value]


def _rule(spec: FieldSpec) -> str:
    if spec.choices:
        return "|".join(spec.choices)
    if spec.type in (int, float) and spec.min is not None and spec.max is not None:
        return f"{spec.type.__name__} {format_value(spec.min)}..{format_value(spec.max)}"
    return spec.type.__name__


def fields_help() -> str:
    """Every config key with its type or choices, default and help, for a command's epilog
    (one line each: the schema's metadata is the only source of this text)."""
    specs = list(iter_fields())
    key_w = max(len(s.key) for s in specs)
    rule_w = max(len(_rule(s)) for s in specs)
    lines = ["[b]Config keys[/b] (--set KEY=VALUE):"]
    for s in specs:
        unit = f" [{s.unit}]" if s.unit else ""
        lines.append(escape(f"{s.key:<{key_w}}  {_rule(s):<{rule_w}}  = {s.default!r:<10} {s.help}{unit}"))
    return "\n".join(lines)
