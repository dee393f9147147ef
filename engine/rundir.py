"""Files of a run directory that both the engine and the run store write.

Pure Python (no torch). `run.json` is read-modify-written under an exclusive lock and
replaced atomically, so the engine (status at start and end) and the UI (queue order,
stop requests) never lose each other's updates, and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import errno
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


# What the storage, not the engine, is to blame for: the person frees space or fixes the
# mount, then resumes. Any other OSError stays what it was (a bug, or a run deleted meanwhile).
_STORAGE_ERRNOS = {errno.ENOSPC: "free space on the filesystem of {dir} (df -h {dir})",
                   errno.EDQUOT: "free space under your quota on the filesystem of {dir}",
                   errno.EROFS: "make {dir} writable (it is on a read-only mount)",
                   errno.EACCES: "make {dir} writable for this user",
                   errno.EPERM: "make {dir} writable for this user",
                   errno.EIO: "check the disk that holds {dir} (I/O error; see dmesg)"}


class DiskError(OSError):
    """Writing a file failed for a reason of the storage (full, read-only, I/O error).

    An OSError still, so every `except OSError` keeps catching it; it adds the file and
    what to do, which a bare ENOSPC raised by a write() has lost."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(error.errno, error.strerror or os.strerror(error.errno), str(path))
        self.path = Path(path)

    @property
    def message(self) -> str:
        return f"cannot write {self.path}: {self.strerror}"

    @property
    def hint(self) -> str:
        return _STORAGE_ERRNOS[self.errno].format(dir=self.path.parent)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn a storage error raised in the block into a DiskError naming `path`."""
    try:
        yield
    except DiskError:
        raise
    except OSError as e:
        if e.errno in _STORAGE_ERRNOS:
            raise DiskError(path, e) from e
        raise


# atomic_write_bytes' temp files: `.<name>.<random>.tmp` beside the file they replace.
_TEMP_PREFIX, _TEMP_SUFFIX = ".", ".tmp"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, then rename over it."""
    path = Path(path)
    with writing(path):
        fd, tmp = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
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


def remove_stale_temp_files(run_dir: Path) -> list[str]:
    """Delete the temp files of atomic writes that a kill interrupted (a checkpoint's is as
    big as the checkpoint); returns their names. Held under the run.json lock, which every
    writer of run.json holds while its temp file exists; the engine calling this at its
    start is the only writer of the others."""
    run_dir = Path(run_dir)
    removed = []
    with writing(run_dir / RUN_FILE), locked(run_dir / RUN_FILE):
        for path in run_dir.iterdir():
            if path.name.startswith(_TEMP_PREFIX) and path.name.endswith(_TEMP_SUFFIX) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path.name)
    return sorted(removed)


def write_run_json(run_dir: Path, record: dict[str, Any]) -> None:
    """Replace run.json whole (temp file + rename) while the caller holds its lock: the one
    format of the record, for the engine and the store alike."""
    atomic_write_text(Path(run_dir) / RUN_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def update_run_json(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into run.json under the lock; returns the new record."""
    path = Path(run_dir) / RUN_FILE
    with writing(path), locked(path):
        record = read_run_json(run_dir)
        record.update(fields)
        write_run_json(run_dir, record)
    return record
