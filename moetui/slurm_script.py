"""The sbatch script of a run: Slurm's options, then the engine as one job step under srun.

The engine's command line is the local launcher's (moetui/backends/local.py), so events,
checkpoints and run.json land in the run directory exactly as for a local run. It runs
under `srun` so that `scancel --signal` and the time limit's `--signal=TERM@N` reach it
(Slurm signals job steps, not the batch shell): it then checkpoints and ends `stopped`.
Its stdout (protocol lines, also in events.jsonl) is dropped; its stderr, srun's and the
batch shell's go to engine.log, so `moetui logs` shows a failed `module load` as well.
Slurm never requeues it (--no-requeue): the script would start the run again from step
0 over its own files; a run whose job died shows crashed and `moetui resume` resubmits.
A run on several nodes starts one torchrun per node whose c10d rendezvous is on the
job's first node. `render` is pure: `moetui slurm show` prints what it returns.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from engine.config import Config
from engine.rundir import HEARTBEAT_FILE, LOG_FILE
from moetui.backends.local import engine_command, rank_env
from moetui.runs import slug
from moetui.slurm_config import SlurmOptions, ranks_per_node
from moetui.spawn import CHILD_SETTINGS, PACKAGE_ROOT

SCRIPT_FILE = "slurm.sbatch"  # in the run directory, replaced at each submission


@dataclass(frozen=True)
class Job:
    run_dir: Path
    name: str
    options: SlurmOptions
    command: list[str]  # the engine's command line
    env: dict[str, str]  # exported before srun, beside PYTHONPATH
    request_gpus: bool  # False for a run that trains on the CPU whatever gpus_per_node says


def job_for(run_dir: Path, name: str, options: SlurmOptions, config: Config, resume: bool) -> Job:
    """The job of a run: its engine command with this interpreter (or [slurm] python)."""
    ranks = ranks_per_node(options)
    command = engine_command(run_dir, resume, ranks, options.nodes)
    if options.python:
        command[0] = options.python
    return Job(run_dir, name, options, command, {**CHILD_SETTINGS, **rank_env(ranks * options.nodes)},
               request_gpus=config.train.device != "cpu" and options.gpus_per_node > 0)


def gpu_request(options: SlurmOptions) -> str:
    """`--gres=gpu:2`, `--gres=gpu:a100:2` or `--gpus-per-node=a100:2`."""
    count = f"{options.gpu_type}:{options.gpus_per_node}" if options.gpu_type else str(options.gpus_per_node)
    return f"--gres=gpu:{count}" if options.gpu_flag == "gres" else f"--gpus-per-node={count}"


def sbatch_options(job: Job) -> list[str]:
    """What follows each #SBATCH, in order; [slurm] extra_sbatch last."""
    o = job.options
    lines = [f"--job-name={slug(job.name)}", f"--output={job.run_dir / LOG_FILE}", "--open-mode=append",
             f"--chdir={job.run_dir}", "--no-requeue", f"--nodes={o.nodes}", "--ntasks-per-node=1"]
    if o.signal_before:
        lines.append(f"--signal=TERM@{o.signal_before}")
    for flag, value in (("partition", o.partition), ("account", o.account), ("time", o.time),
                        ("cpus-per-task", o.cpus_per_task), ("mem", o.mem)):
        if value is not None:
            lines.append(f"--{flag}={value}")
    if job.request_gpus:
        lines.append(gpu_request(o))
    return lines + o.extra_sbatch


def _rendezvous(options: SlurmOptions) -> list[str]:
    """torchrun reads its multi-node rendezvous from PET_* (engine_command gives no --standalone)."""
    port = str(options.rdzv_port) if options.rdzv_port else "$((20000 + SLURM_JOB_ID % 20000))"
    return ["# torchrun's c10d rendezvous on the job's first node, where this script runs",
            'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
            "export PET_NNODES=$SLURM_JOB_NUM_NODES PET_RDZV_BACKEND=c10d PET_RDZV_ID=$SLURM_JOB_ID",
            f"export PET_RDZV_ENDPOINT=$head:{port}"]


def render(job: Job) -> str:
    o = job.options
    srun = ["srun", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    if o.cpus_per_task:  # since Slurm 22.05 srun no longer takes it from sbatch: say it again
        srun.append(f"--cpus-per-task={o.cpus_per_task}")
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in job.env.items())
    lines = ["#!/bin/bash",
             f"# moetui run {job.run_dir.name}: written at each submission (moetui resume writes it again)",
             *(f"#SBATCH {option}" for option in sbatch_options(job)),
             "set -e",
             *(["# [slurm] setup", *o.setup] if o.setup else []),
             f"touch {shlex.quote(str(job.run_dir / HEARTBEAT_FILE))}  # alive; the engine beats once torch has loaded",
             f"export PYTHONPATH={shlex.quote(PACKAGE_ROOT)}${{PYTHONPATH:+:$PYTHONPATH}} {exports}",
             *(_rendezvous(o) if o.nodes > 1 else []),
             f"exec {shlex.join(srun + job.command)} >/dev/null"]
    return "\n".join(lines) + "\n"
