"""Files of a run directory that both the engine and the run store write.

Pure Python (no torch). `run.json` is read-modify-written under an exclusive lock and
replaced atomically, so the engine (status at start and end) and the UI (queue order,
stop requests) never lose each other's updates, and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

CONFIG_FILE = "config.toml"
RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "engine.log"
CHECKPOINT_FILE = "checkpoint.pt"
HEARTBEAT_FILE = "heartbeat"  # its mtime: the engine's last sign of progress (engine/heartbeat.py)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp makes private (0600) files; a run store is shared like any directory a person
# can ls, copy or archive, so replaced files get the mode an ordinary open() would give.
_FILE_MODE = 0o666 & ~_current_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, then rename over it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on `<path>.lock` (the lock file is never replaced, the data file is).
    FileNotFoundError when the directory is gone (a run deleted meanwhile)."""
    with open(f"{path}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_run_json(run_dir: Path, must_exist: bool = False) -> dict[str, Any]:
    """run.json's object; {} when there is none yet (a run being created), unless `must_exist`
    (a run being changed: its absence means it was deleted, and must stay so)."""
    path = Path(run_dir) / RUN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if must_exist:
            raise
        return {}


def update_run_json(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into run.json under the lock; returns the new record."""
    path = Path(run_dir) / RUN_FILE
    with locked(path):
        record = read_run_json(run_dir)
        record.update(fields)
        atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record
