"""The engine's sign of life: the mtime of `heartbeat` in its run directory.

A PID says a process exists, not that it trains: a SIGSTOPped engine (Ctrl-Z) or one hung
in a collective keeps its PID. Readers compare the file's age with the run's
`stall_after` and show the run as stalled; a run of another host (a cluster node) is
judged by this file alone. It is touched from the training thread as work gets done
(each event, each step), never from a timer thread, which would beat on while the loop
hangs. A touch is a metadata write that needs no free space, and it is rate-limited.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class Heartbeat:
    def __init__(self, path: Path | None, every: float = 5.0) -> None:
        """`path` None: no heartbeat (benchmarks, ranks other than 0)."""
        self.path, self.every = path, every
        self._last = float("-inf")

    def beat(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._last < self.every:
            return
        self._last = now
        try:
            touch(self.path)
        except OSError:
            pass  # a read-only or vanished store must not stop training; readers will see it stale


def touch(path: Path) -> None:
    """Create `path` if needed and set its mtime to now (the file server's clock on NFS)."""
    with open(path, "a"):
        pass
    os.utime(path, None)


def age(path: Path, now: float | None = None) -> float | None:
    """Seconds since the last beat; None when there has been none."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    return max(0.0, (time.time() if now is None else now) - mtime)
