"""`moetui sample RUN "prompt"`: continue a prompt with a run's latest checkpoint.

The generating is `engine.generate` (it needs torch, so it runs as its own process, started
like every child through moetui.spawn); this command finds the run and its checkpoint
first, so the common mistakes end in one line before torch is even loaded.
"""

from __future__ import annotations

import subprocess
from typing import Annotated, Optional

import typer

from engine.rundir import CHECKPOINT_FILE
from moetui.cli_common import RunsDir, fail, store_from, user_errors
from moetui.spawn import child_env, python_command


@user_errors
def sample_command(
    run: Annotated[str, typer.Argument(help="Run id, unique id prefix, or name")],
    prompt: Annotated[str, typer.Argument(help="Text to continue")],
    tokens: Annotated[int, typer.Option("--tokens", min=1, max=4096, help="Tokens to generate at most")] = 64,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="0 = greedy (the likeliest token)")] = 0.8,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu or cuda")] = "auto",
    seed: Annotated[Optional[int], typer.Option("--seed", help="Sampling seed (default: a new one each time)",
                                             show_default=False)] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Print PROMPT and its continuation by RUN's model at its latest checkpoint."""
    if device not in ("auto", "cpu", "cuda"):
        raise fail(f"--device {device!r}: use auto, cpu or cuda")
    record = store_from(runs_dir).get(run)
    if not (record.path / CHECKPOINT_FILE).is_file():
        raise fail(f"run {record.name} has no checkpoint yet (it is {record.status}); a run saves one every "
                   "train.checkpoint_every steps, at its end and when stopped")
    args = ["--run-dir", str(record.path), "--prompt", prompt, "--tokens", str(tokens),
            "--temperature", str(temperature), "--device", device]
    if seed is not None:
        args += ["--seed", str(seed)]
    # Captured and echoed (not inherited), so the text goes wherever this command's output goes.
    done = subprocess.run(python_command("engine.generate", *args), env=child_env(), capture_output=True, text=True)
    typer.echo(done.stderr, err=True, nl=False)
    if done.returncode:
        raise typer.Exit(1)
    typer.echo(done.stdout, nl=False)


def register(app: typer.Typer) -> None:
    app.command("sample")(sample_command)
