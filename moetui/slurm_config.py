"""Slurm job options: the `[slurm]` table of the user's config.toml, then per-command flags.

One dataclass names every key with its help, so validation, `moetui slurm show`'s help
and docs/scaling.md's table agree. The options a run was submitted with are kept in its
run.json (`slurm`), so that `moetui resume` asks Slurm for the same job again.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, Iterator

from moetui.errors import MoetuiError
from moetui.user_config import config_file, load_table

TABLE = "slurm"
GPU_FLAGS = ("gres", "gpus")


class SlurmConfigError(MoetuiError):
    """A Slurm option is unknown or has the wrong type or value."""


def _key(help: str, default: Any = None, **rule: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=list, metadata={"help": help, **rule})
    return field(default=default, metadata={"help": help, **rule})


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = _key("partition to run in (sbatch --partition); default: the cluster's")
    account: str | None = _key("account to charge (sbatch --account)")
    time: str | None = _key("time limit (sbatch --time), e.g. 04:00:00 or 2-00:00:00; the run checkpoints "
                            "and stops signal_before seconds before it")
    nodes: int = _key("nodes for one run; more than 1 starts torchrun on each with a c10d rendezvous on the "
                      "first", 1, min=1)
    gpus_per_node: int = _key("GPUs per node, one rank each; 0: a CPU job. With train.device=cpu no GPUs are "
                              "asked for and this many CPU ranks (gloo) start", 1, min=0)
    gpu_flag: str = _key("how to ask for GPUs: gres (--gres=gpu:N) or gpus (--gpus-per-node=N)", "gres",
                         choices=GPU_FLAGS)
    gpu_type: str | None = _key("GPU type in the request, e.g. a100 (--gres=gpu:a100:N)")
    cpus_per_task: int | None = _key("CPUs for each node's task: torchrun and its ranks (sbatch and srun "
                                     "--cpus-per-task)", min=1)
    mem: str | None = _key("memory per node (sbatch --mem), e.g. 64G")
    signal_before: int = _key("seconds before the time limit at which Slurm sends SIGTERM, so the run "
                              "checkpoints and ends stopped (--signal=TERM@N); 0: none", 120, min=0)
    rdzv_port: int | None = _key("port of the c10d rendezvous on the first node (multi-node runs); default: "
                                 "20000 + job id mod 20000", min=1024, max=65535)
    python: str | None = _key("the Python on the nodes; default: the one running moetui (a shared venv)")
    extra_sbatch: list[str] = _key("more sbatch options, one per #SBATCH line, e.g. [\"--qos=high\"]; flags "
                                   "add to these", [])
    setup: list[str] = _key("shell lines run before the engine, e.g. [\"module load cuda\", "
                            "\"source ~/venv/bin/activate\"]", [])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def keys() -> Iterator[dataclasses.Field]:
    return iter(dataclasses.fields(SlurmOptions))


_FIELDS = {f.name: f for f in keys()}
_LISTS = {"extra_sbatch", "setup"}
_INTS = {"nodes", "gpus_per_node", "cpus_per_task", "signal_before", "rdzv_port"}


def _check(key: str, value: Any, where: str) -> Any:
    """`value` if it fits `key`, else a SlurmConfigError naming where it came from."""
    meta = _FIELDS[key].metadata
    if key in _LISTS:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SlurmConfigError(f"{where}: {key} = {value!r} is not a list of strings", f'e.g. {key} = ["..."]')
        if key == "extra_sbatch" and any(not item.startswith("-") or "\n" in item for item in value):
            bad = next(item for item in value if not item.startswith("-") or "\n" in item)
            raise SlurmConfigError(f"{where}: extra_sbatch item {bad!r} is not one sbatch option",
                                   "write each as it follows #SBATCH, e.g. --qos=high")
        return list(value)
    if key in _INTS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise SlurmConfigError(f"{where}: {key} = {value!r} is not a whole number")
        if value < meta.get("min", value) or value > meta.get("max", value):
            limits = f"at least {meta['min']}" + (f" and at most {meta['max']}" if "max" in meta else "")
            raise SlurmConfigError(f"{where}: {key} = {value} is out of range", f"{key} must be {limits}")
        return value
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise SlurmConfigError(f"{where}: {key} = {value!r} is not a one-line string")
    if "choices" in meta and value not in meta["choices"]:
        raise SlurmConfigError(f"{where}: {key} = {value!r} is not one of {', '.join(meta['choices'])}")
    return value


def from_table(table: dict[str, Any], where: str, base: SlurmOptions | None = None) -> SlurmOptions:
    """`base` (default: the defaults) with the keys of `table` set; None values are skipped
    (a flag not given), list values are added to the base's lists (flags add sbatch lines)."""
    base = base or SlurmOptions()
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, list(_FIELDS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_FIELDS)}"
            raise SlurmConfigError(f"{where}: unknown Slurm option {key!r}", hint)
        if value is None:
            continue
        checked = _check(key, value, where)
        changes[key] = getattr(base, key) + checked if key in _LISTS else checked
    return dataclasses.replace(base, **changes)


def load(flags: dict[str, Any] | None = None) -> SlurmOptions:
    """The `[slurm]` table of config.toml, then `flags` (None: not given) over it."""
    options = from_table(load_table(TABLE), f"{config_file()} [{TABLE}]")
    return from_table(flags or {}, "command line", options)


def from_record(record: dict[str, Any]) -> SlurmOptions:
    """The options a run was submitted with (run.json `slurm`), checked again: a
    hand-edited record must not become a broken job script."""
    stored = record.get(TABLE) or {}
    if not isinstance(stored, dict):
        raise SlurmConfigError(f"run.json: {TABLE} is {stored!r}, not a table of Slurm options")
    return from_table(stored, f"run.json {TABLE}")


def ranks_per_node(options: SlurmOptions) -> int:
    """Engine processes on each node: one per GPU, at least one."""
    return max(1, options.gpus_per_node)
