"""Slurm on the command line: the flags of `run --slurm` and `study --slurm`, and `moetui slurm show`.

Flags override the `[slurm]` table of config.toml key by key (moetui/slurm_config.py);
`--sbatch` adds lines to its extra_sbatch. They mean nothing without `--slurm`, so given
alone they are refused rather than ignored. `slurm_flags` gives a command all of them at
once (typer has no groups of parameters): declared here once, not in every command.
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer

from engine.config import Config
from moetui import presets, slurm_config, slurm_submit
from moetui.cli_common import RunsDir, Sets, store_from, user_errors
from moetui.errors import MoetuiError
from moetui.runs import RunRecord, RunStore
from moetui.slurm_config import SlurmOptions
from moetui.slurm_script import job_for, render

PANEL = r"Slurm (with --slurm; defaults from \[slurm] in ~/.config/moetui/config.toml)"  # \[: not Rich markup

Slurm = Annotated[bool, typer.Option("--slurm", help="Submit to Slurm: one sbatch job per run, into this run store "
                                     "(which the nodes must share)", rich_help_panel=PANEL)]
Partition = Annotated[Optional[str], typer.Option(help="sbatch --partition", rich_help_panel=PANEL)]
Account = Annotated[Optional[str], typer.Option(help="sbatch --account", rich_help_panel=PANEL)]
Time = Annotated[Optional[str], typer.Option("--time", metavar="D-HH:MM:SS", help="Time limit; the run "
                                             "checkpoints and stops before it", rich_help_panel=PANEL)]
Nodes = Annotated[Optional[int], typer.Option(min=1, help="Nodes for one run (torchrun on each, c10d "
                                              "rendezvous on the first)", rich_help_panel=PANEL)]
GpusPerNode = Annotated[Optional[int], typer.Option(min=0, help="GPUs (ranks) per node; 0: a CPU job",
                                                    rich_help_panel=PANEL)]
CpusPerTask = Annotated[Optional[int], typer.Option(min=1, help="CPUs per node for torchrun and its ranks",
                                                    rich_help_panel=PANEL)]
Mem = Annotated[Optional[str], typer.Option(help="Memory per node, e.g. 64G", rich_help_panel=PANEL)]
Sbatch = Annotated[Optional[list[str]], typer.Option(
    "--sbatch", metavar="OPTION", help="One more sbatch option, e.g. --sbatch=--qos=high (repeatable)",
    rich_help_panel=PANEL)]

# parameter -> (its typer annotation, default, the [slurm] key it sets)
_FLAGS: dict[str, tuple[Any, Any, str]] = {
    "partition": (Partition, None, "partition"), "account": (Account, None, "account"), "time": (Time, None, "time"),
    "nodes": (Nodes, None, "nodes"), "gpus_per_node": (GpusPerNode, None, "gpus_per_node"),
    "cpus_per_task": (CpusPerTask, None, "cpus_per_task"), "mem": (Mem, None, "mem"),
    "sbatch": (Sbatch, None, "extra_sbatch")}
F = TypeVar("F", bound=Callable[..., Any])


def options(slurm: bool, **flags: Any) -> SlurmOptions | None:
    """The job options when --slurm is given (config file, then `flags`); None without it."""
    given = {name: value for name, value in flags.items() if value not in (None, [])}
    if not slurm:
        if given:
            raise MoetuiError(f"--{next(iter(given)).replace('_', '-')} is a Slurm option",
                              "add --slurm to submit to Slurm")
        return None
    return slurm_config.load({_FLAGS[name][2]: value for name, value in given.items()})


def slurm_flags(implied: bool = False) -> Callable[[F], F]:
    """Give a command `--slurm` (unless `implied`) and every Slurm flag; it receives them as
    one `on_slurm` argument: the SlurmOptions, or None without --slurm."""
    flags = _FLAGS if implied else {"slurm": (Slurm, False, ""), **_FLAGS}

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)  # typer reads the wrapper's signature as it is
        own = [p for p in signature.parameters.values() if p.name != "on_slurm"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
                 for name, (annotation, default, _) in flags.items()]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in flags}
            slurm = given.pop("slurm", True)
            return command(*args, on_slurm=options(slurm, **given), **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
        return wrapper  # type: ignore[return-value]

    return decorate


def _checked(store: RunStore, config: Config, chosen: SlurmOptions, gpus: str | None) -> None:
    if gpus:
        raise MoetuiError(f"--gpus {gpus} names GPUs of this machine; a Slurm job gets its own",
                          "use --gpus-per-node with --slurm")
    for warning in slurm_submit.check(store, config, chosen):
        typer.echo(f"moetui: warning: {warning}", err=True)


def submit(store: RunStore, config: Config, chosen: SlurmOptions, gpus: str | None, **fields: Any) -> RunRecord:
    """`moetui run --slurm`: checked, then one job; says which."""
    _checked(store, config, chosen, gpus)
    record = slurm_submit.submit_run(store, config, chosen, **fields)
    typer.echo(f"submitted {record.name} as Slurm job {record.job_id}", err=True)
    return record


def submit_study(store: RunStore, spec: presets.Study, preset: str, runs: list[tuple[str, int, Config]],
                 chosen: SlurmOptions, gpus: str | None, **labels: Any) -> list[RunRecord]:
    """`moetui study --slurm`: its first run is checked, then one job per variant and seed."""
    _checked(store, runs[0][2], chosen, gpus)
    return slurm_submit.submit_study(store, spec.name, preset, runs, chosen, **labels)


@user_errors
@slurm_flags(implied=True)
def show_command(
    preset: Annotated[str, typer.Argument(help="Preset name or .toml file")] = "quick",
    sets: Sets = None,
    resume: Annotated[bool, typer.Option("--resume", help="The script of a resubmission")] = False,
    runs_dir: RunsDir = None,
    on_slurm: SlurmOptions | None = None,
) -> None:
    """Print the job script `moetui run PRESET --slurm` would submit (nothing is written)."""
    config, meta = presets.load_preset(preset)
    config = config.apply_overrides(sets or [], "--set").validate("--set")
    assert on_slurm is not None  # --slurm is implied
    run_dir = store_from(runs_dir).root.expanduser().resolve() / "RUN-ID"
    typer.echo(render(job_for(run_dir, meta.name, on_slurm, config, resume)), nl=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Slurm: the job scripts of runs submitted with --slurm.", no_args_is_help=True)
    group.command("show")(show_command)
    app.add_typer(group, name="slurm")
