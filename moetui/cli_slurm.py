"""Slurm on the command line: the flags of `run --slurm` and `study --slurm`, and `moetui slurm show`.

Flags override the `[slurm]` table of config.toml key by key (moetui/slurm_config.py);
`--sbatch` adds lines to its extra_sbatch. They mean nothing without `--slurm`, so given
alone they are refused rather than ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

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


def options(slurm: bool, partition: str | None, account: str | None, time: str | None, nodes: int | None,
            gpus_per_node: int | None, cpus_per_task: int | None, mem: str | None,
            sbatch: list[str] | None) -> SlurmOptions | None:
    """The job options when --slurm is given (config file, then flags); None without it."""
    flags: dict[str, Any] = {"partition": partition, "account": account, "time": time, "nodes": nodes,
                             "gpus_per_node": gpus_per_node, "cpus_per_task": cpus_per_task, "mem": mem,
                             "extra_sbatch": sbatch or None}
    given = [key for key, value in flags.items() if value is not None]
    if not slurm:
        if given:
            flag = "--sbatch" if given[0] == "extra_sbatch" else "--" + given[0].replace("_", "-")
            raise MoetuiError(f"{flag} is a Slurm option", "add --slurm to submit to Slurm")
        return None
    return slurm_config.load(flags)


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
    """`moetui study --slurm`: the base run is checked, then one job per variant and seed."""
    _checked(store, runs[0][2], chosen, gpus)
    return slurm_submit.submit_study(store, spec.name, preset, runs, chosen, **labels)


@user_errors
def show_command(
    preset: Annotated[str, typer.Argument(help="Preset name or .toml file")] = "quick",
    sets: Sets = None,
    resume: Annotated[bool, typer.Option("--resume", help="The script of a resubmission")] = False,
    partition: Partition = None,
    account: Account = None,
    time: Time = None,
    nodes: Nodes = None,
    gpus_per_node: GpusPerNode = None,
    cpus_per_task: CpusPerTask = None,
    mem: Mem = None,
    sbatch: Sbatch = None,
    runs_dir: RunsDir = None,
) -> None:
    """Print the job script `moetui run PRESET --slurm` would submit (nothing is written)."""
    config, meta = presets.load_preset(preset)
    config = config.apply_overrides(sets or [], "--set").validate("--set")
    chosen = options(True, partition, account, time, nodes, gpus_per_node, cpus_per_task, mem, sbatch)
    assert chosen is not None  # --slurm is implied
    run_dir = store_from(runs_dir).root.expanduser().resolve() / "RUN-ID"
    typer.echo(render(job_for(run_dir, meta.name, chosen, config, resume)), nl=False)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Slurm: the job scripts of runs submitted with --slurm.", no_args_is_help=True)
    group.command("show")(show_command)
    app.add_typer(group, name="slurm")
