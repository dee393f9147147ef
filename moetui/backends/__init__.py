"""Backends: how an engine is started, signalled and probed for a run.

The CLI, the TUI and the queue never touch processes themselves; they ask the backend
that `run.json` names (`backend`, default local) to `submit` an engine for a run
directory, to `signal` it, and for its `liveness`. Local processes are one
implementation; a cluster scheduler (Slurm, moetui/backends/slurm.py) is another beside
it, with the same verbs, plus two that only a scheduler with a queue of its own gives
meaning to: `withdraw` a run that waits there, and `detail`, its own words on where the
engine runs or why it waits or is gone. The run directory stays the one place where
state lives: a backend returns the fields to record and reads them back.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from moetui.errors import MoetuiError


class BackendError(MoetuiError):
    """A backend cannot do what was asked (not our process, another host, unknown backend)."""


@dataclass
class Submission:
    """A started engine: the fields run.json records about it, and for a local engine its
    process (whose stdout pipe the caller may read)."""
    fields: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen | None = None


class Backend(Protocol):
    name: str

    def submit(self, record: dict[str, Any], run_dir: Path, resume: bool, gpus: list[str],
               pipe: bool) -> Submission:
        """Start the engine for the run in `run_dir` (its config.toml is written; `record` is
        its run.json as it will be written, backend options included). The fields returned
        are recorded over it: `status` among them when the engine has not started yet."""

    def signal(self, record: dict[str, Any], run_dir: Path, signum: int) -> None:
        """Signal the run's engine; BackendError unless it is verifiably the engine started."""

    def liveness(self, record: dict[str, Any], run_dir: Path) -> str:
        """A `moetui.status.Liveness` value for the engine the record names."""

    def is_remote(self, record: dict[str, Any]) -> bool:
        """True when the engine runs on another host: its heartbeat comes over a shared
        filesystem (a minute's grace), and only a person may judge it dead (resume --force)."""

    def withdraw(self, record: dict[str, Any], run_dir: Path) -> None:
        """Take a submitted run that has not started out of the backend's own queue;
        BackendError when it has started meanwhile."""

    def detail(self, record: dict[str, Any], run_dir: Path) -> str | None:
        """Where the engine runs, or why it waits or is gone, in the backend's words; None if nothing to add."""


def backend_for(record: dict[str, Any]) -> Backend:
    from moetui.backends.local import LocalBackend  # the registry: one entry per implementation
    from moetui.backends.slurm import SlurmBackend

    name = record.get("backend") or "local"
    backends: dict[str, type[Backend]] = {LocalBackend.name: LocalBackend, SlurmBackend.name: SlurmBackend}
    if name not in backends:
        raise BackendError(f"unknown backend {name!r} in run.json", f"known: {', '.join(backends)}")
    return backends[name]()
