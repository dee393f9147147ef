"""Who a process is: its PID alone is not enough.

After a crash or a reboot the PID a run recorded can belong to an unrelated process, and
signalling it would kill someone else's work. A process is therefore recorded as PID +
start time + host + boot time, and a recorded process is "ours" only when all four match.
Pure Python (psutil, no torch): the engine records itself, the launcher probes and signals.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import psutil

# psutil derives start times from clock ticks since boot: two reads of one process agree
# to the tick (10 ms); a PID recycled within this window would have to start in the same tick.
_SAME_START_S = 0.05


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    started: float  # the process's start time (unix seconds)
    host: str
    boot: float  # this host's boot time: a reboot recycles every PID

    def record(self) -> dict[str, Any]:
        """The run.json fields that name the process."""
        return {"pid": self.pid, "pid_started": self.started, "host": self.host, "boot": self.boot}


def this_host() -> str:
    return socket.gethostname()


def identify(pid: int) -> ProcessIdentity | None:
    """The identity of a live process on this host; None when there is no such process."""
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:  # someone else's process: still a process, with an unknown start
        started = 0.0
    return ProcessIdentity(pid, started, this_host(), psutil.boot_time())


def same_process(recorded: ProcessIdentity) -> bool:
    """True when the recorded process (of this host) is still the one running under its PID.
    A zombie has ended; a PID whose start time differs was recycled."""
    if abs(recorded.boot - psutil.boot_time()) > 1.0:
        return False
    try:
        process = psutil.Process(recorded.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(process.create_time() - recorded.started) <= _SAME_START_S
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False


def from_record(record: dict[str, Any]) -> ProcessIdentity | None:
    """The identity run.json recorded, or None when it lacks one (never started, or
    written before identities were recorded: such a process can never be verified)."""
    pid, started, host, boot = (record.get(k) for k in ("pid", "pid_started", "host", "boot"))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (pid, started, boot))
    if not numbers or not isinstance(host, str) or int(pid) != pid or pid <= 0:
        return None
    return ProcessIdentity(int(pid), float(started), host, float(boot))
