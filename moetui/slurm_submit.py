"""Hand runs to Slurm from the CLI or the TUI: check everything first, then one job per run.

`check` refuses, in one line and before the store is touched, what would fail only after
runs were written: no sbatch here, options Slurm would refuse (its own words, from
`sbatch --test-only`), more GPUs per node than the partition has. It warns when the run
store sits where compute nodes usually cannot see it. `submit_run` and `submit_study`
create the runs already marked for Slurm, so the local queue never takes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import Config
from moetui import launcher, slurm_commands
from moetui.runs import RunRecord, RunStore
from moetui.scheduler import study_run_name
from moetui.slurm_config import TABLE, SlurmConfigError, SlurmOptions
from moetui.slurm_script import job_for, render

NODE_LOCAL = (Path("/tmp"), Path("/dev/shm"))  # on every node, but each node's own


def check(store: RunStore, config: Config, options: SlurmOptions) -> list[str]:
    """Warnings for the person; a SlurmError or SlurmConfigError for what cannot work."""
    root = store.root.expanduser().resolve()
    if any(c.isspace() for c in str(root)):
        raise SlurmConfigError(f"the run store {root} has a space in its path, which #SBATCH lines cannot carry",
                               "use a run store without spaces (--runs-dir or $MOETUI_RUNS)")
    warnings = [f"the run store {root} is under {local}, which each node has its own of: jobs may not find "
                "their runs; use a shared filesystem (--runs-dir or $MOETUI_RUNS)"
                for local in NODE_LOCAL if root.is_relative_to(local)]
    job = job_for(root / "RUN-ID", "check", options, config, resume=False)
    if job.request_gpus:
        most = slurm_commands.partition_gpus(options.partition, options.gpu_type)
        if most is not None and most < options.gpus_per_node:
            where = f"partition {options.partition}" if options.partition else "this cluster"
            kind = f" {options.gpu_type}" if options.gpu_type else ""
            raise SlurmConfigError(f"{where} has at most {most}{kind} GPUs per node (sinfo %G), "
                                   f"{options.gpus_per_node} per node were asked for",
                                   "lower gpus_per_node (--gpus-per-node) or pick another partition")
    slurm_commands.check_submission(render(job))
    return warnings


def backend_fields(options: SlurmOptions) -> dict[str, Any]:
    """What run.json records to hand a run to Slurm with these options."""
    return {"backend": "slurm", TABLE: options.to_dict()}


def submit_run(store: RunStore, config: Config, options: SlurmOptions, **fields: Any) -> RunRecord:
    """Create a run and submit it as one job (`fields` as for `RunStore.create`)."""
    record, _ = launcher.start_new(store, config, backend=backend_fields(options), **fields)
    return record


def submit_study(store: RunStore, study: str, preset: str, runs: list[tuple[str, int, Config]],
                 options: SlurmOptions, **labels: Any) -> list[RunRecord]:
    """A study's expanded runs (see `presets.study_configs`), one job each, in order."""
    return [submit_run(store, config, options, name=study_run_name(study, variant, seed), preset=preset,
                       study=study, variant=variant, seed=seed, **labels) for variant, seed, config in runs]
