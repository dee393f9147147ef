"""The run store: one directory per run under a root (`--runs-dir`, $MOETUI_RUNS or ./runs).

Everything about a run lives in its directory (engine/rundir.py names the files), so the
CLI, the TUI, the scheduler and the engine share state through files alone and any of
them can die without the others losing track. `run.json` is merged under a lock and
replaced atomically; this module never holds run state in memory between calls.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from engine.config import Config
from engine.rundir import CONFIG_FILE, RUN_FILE, atomic_write_text, locked, read_run_json, update_run_json
from moetui.errors import MoetuiError

RUNS_ENV = "MOETUI_RUNS"
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


class RunNotFound(MoetuiError):
    """No run (or more than one) answers to the name a person gave."""


class RunBusy(MoetuiError):
    """The run is in a state that forbids the action (deleting a live run)."""


@dataclass
class RunRecord:
    """What run.json says about a run, with `status` as seen from here (see `effective_status`)."""

    id: str
    name: str
    path: Path
    preset: str | None = None
    study: str | None = None
    variant: str | None = None
    seed: int | None = None
    status: str = "queued"
    pid: int | None = None
    host: str | None = None
    device: str | None = None
    git_commit: str | None = None
    created: float | None = None
    started: float | None = None
    ended: float | None = None
    exit_reason: str | None = None
    exit_code: int | None = None
    queue_order: int | None = None
    gpu: str | None = None

    @classmethod
    def from_json(cls, run_dir: Path, data: dict[str, Any]) -> "RunRecord":
        """Unknown keys are dropped (newer writers may add some); missing ones take defaults."""
        fields = {k: v for k, v in data.items() if k in _WRITABLE}
        fields.setdefault("name", run_dir.name)
        return cls(id=run_dir.name, path=run_dir, **fields)


_WRITABLE = frozenset(f.name for f in dataclasses.fields(RunRecord)) - {"id", "path"}


def process_alive(pid: int | None) -> bool:
    """True when `pid` is a live, non-zombie process on this host."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child stays a zombie until its parent reaps it: that is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def effective_status(data: dict[str, Any]) -> str:
    """run.json's status, except a run recorded as running on this host whose process is
    gone is `crashed` (killed, OOM-killed, machine rebooted): nobody will ever update it."""
    status = data.get("status") or "queued"
    if status == "running" and data.get("host") == socket.gethostname() and not process_alive(data.get("pid")):
        return "crashed"
    return status


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    """Replace run.json while the caller holds its lock (`update_run_json` takes the lock itself)."""
    atomic_write_text(Path(run_dir) / RUN_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def slug(name: str) -> str:
    """A name as it may appear in a directory name."""
    return _SLUG.sub("-", name).strip("-.")[:48] or "run"


def make_run_id(name: str, now: float) -> str:
    """`20261124-093012-ab12-name`: the 4 hex digits are the fraction of the second, so ids
    sort by creation time; `create` bumps them on the rare collision."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{int((now % 1) * 0x10000):04x}-{slug(name)}"


@cache
def source_commit() -> str | None:
    """The git commit of the code that launches runs, when it runs from a checkout."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class RunStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def from_env(cls, runs_dir: Path | str | None = None) -> "RunStore":
        """--runs-dir, else $MOETUI_RUNS, else ./runs."""
        return cls(Path(runs_dir or os.environ.get(RUNS_ENV) or "runs").expanduser())

    # ---- create ------------------------------------------------------------------------
    @contextlib.contextmanager
    def creating(self, config: Config, name: str | None = None, preset: str | None = None,
                 study: str | None = None, variant: str | None = None, seed: int | None = None,
                 status: str = "queued", queue_order: int | None = None) -> Iterator[RunRecord]:
        """A new run directory with the resolved config and its record, yielded while its
        run.json lock is held: a caller that starts the run inside the block does so before
        the scheduler can claim it from the queue. The config must be valid: a run that
        cannot start never reaches the store."""
        config.validate("config")
        name = name or preset or "run"
        now = time.time()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file by that name, a read-only disk: the person picks another store
            reason = "not a directory" if self.root.exists() else e.strerror  # mkdir says "File exists"
            raise MoetuiError(f"cannot keep runs in {self.root}: {reason}",
                              f"choose another store with --runs-dir or ${RUNS_ENV}") from None
        run_dir = self._new_dir(name, now)  # not a run until run.json exists: `list` skips it
        record = RunRecord(id=run_dir.name, name=name, path=run_dir, preset=preset, study=study, variant=variant,
                           seed=config.train.seed if seed is None else seed, status=status,
                           git_commit=source_commit(), created=now, queue_order=queue_order)
        atomic_write_text(run_dir / CONFIG_FILE, config.to_toml())
        with locked(run_dir / RUN_FILE):
            write_record(run_dir, {k: v for k, v in dataclasses.asdict(record).items() if k != "path"})
            yield record

    def create(self, config: Config, **fields: Any) -> RunRecord:
        """`creating` for callers that do not start the run themselves (see there)."""
        with self.creating(config, **fields) as record:
            return record

    def _new_dir(self, name: str, now: float) -> Path:
        for bump in range(1000):
            path = self.root / make_run_id(name, now + bump / 0x10000)
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
        raise MoetuiError(f"could not find a free run id in {self.root}")  # pragma: no cover - 1000 in 15 ms

    # ---- read --------------------------------------------------------------------------
    def path(self, run_id: str) -> Path:
        return self.root / run_id

    def _load(self, run_dir: Path) -> RunRecord:
        try:
            data = read_run_json(run_dir)
        except (OSError, ValueError) as e:
            return RunRecord(id=run_dir.name, name=run_dir.name, path=run_dir, status="failed",
                             exit_reason=f"unreadable {RUN_FILE}: {e}")
        record = RunRecord.from_json(run_dir, data)
        record.status = effective_status(data)
        return record

    def list(self) -> list[RunRecord]:
        """Every run, oldest first. Hidden entries (the token cache, scheduler files) are not runs."""
        if not self.root.is_dir():
            return []
        runs = [self._load(d) for d in self.root.iterdir()
                if not d.name.startswith(".") and (d / RUN_FILE).is_file()]
        return sorted(runs, key=lambda r: (r.created or 0, r.id))

    def get(self, ref: str) -> RunRecord:
        """A run by id, unique id prefix or name. Ambiguity is an error rather than "the newest",
        because stopping or deleting the wrong run cannot be undone."""
        direct = self.path(ref)
        if ref and "/" not in ref and not ref.startswith(".") and (direct / RUN_FILE).is_file():
            return self._load(direct)
        runs = self.list()
        for how, matches in (("id prefix", [r for r in runs if r.id.startswith(ref)]),
                             ("name", [r for r in runs if r.name == ref])):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                shown = ", ".join(r.id for r in matches[:5]) + (" ..." if len(matches) > 5 else "")
                raise RunNotFound(f"{how} {ref!r} matches {len(matches)} runs ({shown})",
                                  "give more of the id")
        close = difflib.get_close_matches(ref, sorted({r.name for r in runs} | {r.id for r in runs}), n=3)
        hint = f"did you mean {' or '.join(map(repr, close))}?" if close else "list runs with: moetui ls"
        raise RunNotFound(f"no run {ref!r} in {self.root}", hint)

    def config(self, run_id: str) -> Config:
        return Config.from_toml(self.path(run_id) / CONFIG_FILE)

    # ---- change ------------------------------------------------------------------------
    def update(self, run_id: str, **fields: Any) -> RunRecord:
        unknown = set(fields) - _WRITABLE
        if unknown:
            raise ValueError(f"not run record fields: {', '.join(sorted(unknown))}")
        run_dir = self.path(run_id)
        if not (run_dir / RUN_FILE).is_file():
            raise RunNotFound(f"no run {run_id!r} in {self.root}")
        update_run_json(run_dir, **fields)
        return self._load(run_dir)

    def delete(self, run_id: str) -> None:
        """Remove a run and its files; a live run must be stopped first."""
        record = self._load(self.path(run_id))
        if record.status == "running":
            raise RunBusy(f"run {record.name} ({run_id}) is running", f"stop it first: moetui stop {run_id}")
        shutil.rmtree(self.path(run_id))

    def queued(self) -> list[RunRecord]:
        """Runs waiting to start, in the order the scheduler starts them."""
        return in_queue_order(self.list())


def in_queue_order(records: Iterable[RunRecord]) -> list[RunRecord]:
    """The queued runs among `records`, in the order the scheduler starts them: by
    `queue_order` (unset last), then by creation. Pure, so the TUI can order the records
    it already holds."""
    waiting = [r for r in records if r.status == "queued"]
    return sorted(waiting, key=lambda r: (r.queue_order if r.queue_order is not None else float("inf"),
                                          r.created or 0, r.id))
