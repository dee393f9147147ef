"""Backends: how an engine is started, signalled and probed for a run.

The CLI, the TUI and the queue never touch processes themselves; they ask the backend
that `run.json` names (`backend`, default local) to `submit` an engine for a run
directory, to `signal` it, and for its `liveness`. Local processes are one
implementation; a cluster scheduler (Slurm) is another beside it, with the same three
verbs. The run directory stays the one place where state lives: a backend returns the
fields to record and reads them back, it keeps nothing in memory.
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

    def submit(self, run_dir: Path, resume: bool, gpus: list[str], pipe: bool) -> Submission:
        """Start the engine for the run in `run_dir` (its config.toml is written)."""

    def signal(self, record: dict[str, Any], run_dir: Path, signum: int) -> None:
        """Signal the run's engine; BackendError unless it is verifiably the engine started."""

    def liveness(self, record: dict[str, Any], run_dir: Path) -> str:
        """A `moetui.status.Liveness` value for the engine the record names."""

    def is_remote(self, record: dict[str, Any]) -> bool:
        """True when this host cannot probe the engine and must judge by its heartbeat."""


def backend_for(record: dict[str, Any]) -> Backend:
    from moetui.backends.local import LocalBackend  # the registry: one entry per implementation

    name = record.get("backend") or "local"
    backends = {LocalBackend.name: LocalBackend}
    if name not in backends:
        raise BackendError(f"unknown backend {name!r} in run.json", f"known: {', '.join(backends)}")
    return backends[name]()
