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
import itertools
import math
import os
import re
import reprlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from engine.config import Config
from engine.heartbeat import age as heartbeat_age
from engine.rundir import (CONFIG_FILE, HEARTBEAT_FILE, RUN_FILE, atomic_write_text, locked, read_run_json,
                           write_run_json)
from moetui import preflight, status
from moetui.backends import BackendError, backend_for
from moetui.errors import MoetuiError

RUNS_ENV = "MOETUI_RUNS"
NAMES_LOCK = ".names"  # held while a new run picks its name (lock file .names.lock)
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


class RunNotFound(MoetuiError):
    """No run (or more than one) answers to the name a person gave."""


class RunBusy(MoetuiError):
    """The run is in a state that forbids the action (deleting a live run)."""


@dataclass
class RunRecord:
    """What run.json says about a run, with `status` as seen from here (see `observe`)."""

    id: str
    name: str
    path: Path
    preset: str | None = None
    study: str | None = None
    variant: str | None = None
    seed: int | None = None
    status: str = "queued"
    backend: str | None = None
    job_id: str | None = None  # the cluster scheduler's job (Slurm) of the latest submission
    pid: int | None = None
    pid_started: float | None = None
    host: str | None = None
    boot: float | None = None
    device: str | None = None
    git_commit: str | None = None
    created: float | None = None
    started: float | None = None  # the first start; a resume does not move it
    resumed: float | None = None  # the latest resume, if any
    ended: float | None = None
    stop_requested: float | None = None
    stall_after: float | None = None
    exit_reason: str | None = None
    exit_code: int | None = None
    queue_order: int | None = None
    gpu: str | None = None
    parent: str | None = None  # the run this one continues (`moetui continue`), by id
    notes: str | None = None  # the researcher's own words on the run (`moetui note`, the TUI's notes)
    tags: list[str] = dataclasses.field(default_factory=list)  # short labels, found with the runs filter

    @classmethod
    def from_json(cls, run_dir: Path, data: dict[str, Any]) -> "RunRecord":
        """Unknown keys are dropped (newer writers may add some); missing ones take defaults.
        `data` must have passed `record_problem`."""
        fields = {k: v for k, v in data.items() if k in _WRITABLE}
        fields.setdefault("name", run_dir.name)
        fields["tags"] = fields.get("tags") or []  # `null` in a hand-edited run.json: no tags
        return cls(id=run_dir.name, path=run_dir, **fields)

    @property
    def damaged(self) -> bool:
        return self.status == status.DAMAGED


_WRITABLE = frozenset(f.name for f in dataclasses.fields(RunRecord)) - {"id", "path"}
_NUMBER = (int, float)
# The JSON types each run.json field may hold (None is always allowed: "not yet").
_TYPES: dict[str, tuple[type, ...]] = {
    **{name: (str,) for name in ("name", "preset", "study", "variant", "status", "backend", "host", "device",
                                 "git_commit", "exit_reason", "gpu", "parent", "notes", "job_id")},
    **{name: (int,) for name in ("seed", "pid", "exit_code", "queue_order")},
    **{name: _NUMBER for name in ("pid_started", "boot", "created", "started", "resumed", "ended", "stop_requested",
                                  "stall_after")},
}


def record_problem(data: Any) -> str | None:
    """Why a parsed run.json cannot be trusted, or None. One bad record must make one run
    `damaged`, never break a listing, a report or the scheduler."""
    if not isinstance(data, dict):
        return f"{RUN_FILE} holds {type(data).__name__}, not an object"
    for key, types in _TYPES.items():
        value = data.get(key)  # reprlib: a value a megabyte long still makes a one-line reason
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            return f"{RUN_FILE}: {key} is {reprlib.repr(value)}, expected {' or '.join(t.__name__ for t in types)}"
        if isinstance(value, float) and not math.isfinite(value):  # JSON's NaN/Infinity: no time or limit
            return f"{RUN_FILE}: {key} is {value!r}, expected a finite number"
    tags = data.get("tags")  # a list: `_TYPES` holds scalars only
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        return f"{RUN_FILE}: tags is {reprlib.repr(tags)}, expected a list of strings"
    if data.get("status") is not None and data["status"] not in status.STORED:
        return f"{RUN_FILE}: status {reprlib.repr(data['status'])} is not a run status"
    return None


def waits_in_cluster(data: dict[str, Any]) -> bool:
    """A queued run handed to a cluster scheduler (Slurm): it waits in that scheduler's
    queue, not in the store's, and only that scheduler can say whether it still does."""
    return (data.get("status") or status.QUEUED) == status.QUEUED and data.get("job_id") is not None


def observe(data: dict[str, Any], run_dir: Path) -> status.Seen:
    """The status a person should see: the stored one, except that a live-looking run whose
    engine is gone is crashed, and one without progress for too long is stalled; a run in
    a cluster's queue is what that scheduler says (waiting, started, or gone)."""
    stored = data.get("status") or status.QUEUED
    submitted = waits_in_cluster(data)
    if stored not in status.LIVE and not submitted:
        return status.Seen(stored)
    try:
        backend = backend_for(data)
    except BackendError as e:
        return status.Seen(status.DAMAGED, str(e))
    stall_after = data.get("stall_after") or status.DEFAULT_STALL_AFTER_S
    return status.derive(stored, backend.liveness(data, run_dir), heartbeat_age(run_dir / HEARTBEAT_FILE),
                         stall_after, backend.is_remote(data), submitted, backend.detail(data, run_dir))


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
                 status: str = "queued", queue_order: int | None = None, notes: str | None = None,
                 tags: list[str] | None = None, gpus_here: bool = True) -> Iterator[RunRecord]:
        """A new run directory with the resolved config and its record, yielded while its
        run.json lock is held: a caller that starts the run inside the block does so before
        the scheduler can claim it from the queue. The config must be valid: a run that
        cannot start never reaches the store (`gpus_here`: see `preflight.ready`)."""
        config.validate("config")
        config = preflight.ready(config, name, gpus_here)
        name = name or preset or "run"
        now = time.time()
        self.check_writable()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a file by that name, a read-only disk: the person picks another store
            reason = "not a directory" if self.root.exists() else e.strerror  # mkdir says "File exists"
            raise MoetuiError(f"cannot keep runs in {self.root}: {reason}",
                              f"choose another store with --runs-dir or ${RUNS_ENV}") from None
        with contextlib.ExitStack() as held:
            with locked(self.root / NAMES_LOCK):  # two launches at once must not both take `quick-2`
                name = unique_name(name, self.names())
                run_dir = self._new_dir(name, now)  # not a run until run.json exists: `list` skips it
                record = RunRecord(id=run_dir.name, name=name, path=run_dir, preset=preset, study=study,
                                   variant=variant, seed=config.train.seed if seed is None else seed, status=status,
                                   git_commit=source_commit(), created=now, queue_order=queue_order,
                                   notes=notes or None, tags=list(tags or []))
                atomic_write_text(run_dir / CONFIG_FILE, config.to_toml())
                held.enter_context(locked(run_dir / RUN_FILE))
                write_run_json(run_dir, {k: v for k, v in dataclasses.asdict(record).items() if k != "path"})
            yield record

    def create(self, config: Config, **fields: Any) -> RunRecord:
        """`creating` for callers that do not start the run themselves (see there)."""
        with self.creating(config, **fields) as record:
            return record

    def names(self) -> set[str]:
        """The names runs already have (read straight from run.json: no liveness probes)."""
        names = set()
        for run_dir in self.root.iterdir() if self.root.is_dir() else ():
            with contextlib.suppress(OSError, ValueError, AttributeError):
                name = read_run_json(run_dir).get("name") if not run_dir.name.startswith(".") else None
                if isinstance(name, str):
                    names.add(name)
        return names

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
        except (OSError, ValueError, RecursionError) as e:  # not JSON, not UTF-8, or nested past the stack
            return _damaged(run_dir, f"unreadable {RUN_FILE}: {getattr(e, 'strerror', None) or e}")
        problem = record_problem(data)
        if problem is not None:
            return _damaged(run_dir, problem)
        record = RunRecord.from_json(run_dir, data)
        seen = observe(data, run_dir)
        if seen != status.Seen(record.status):  # derived, or the backend's words on it (Slurm's reason, node)
            record.status, record.exit_reason = seen.status, seen.reason or record.exit_reason
        return record

    def list(self) -> list[RunRecord]:
        """Every run, oldest first. Hidden entries (the token cache, scheduler files) are not runs."""
        if not self.root.is_dir():
            return []
        runs = [self._load(d) for d in self.root.iterdir()
                if not d.name.startswith(".") and (d / RUN_FILE).exists()]
        return sorted(runs, key=lambda r: (r.created or 0, r.id))

    def get(self, ref: str) -> RunRecord:
        """A run by id, unique id prefix or name. Ambiguity is an error rather than "the newest",
        because stopping or deleting the wrong run cannot be undone."""
        direct = self.path(ref)
        if ref and "/" not in ref and not ref.startswith(".") and (direct / RUN_FILE).exists():
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
        try:
            with locked(run_dir / RUN_FILE):
                data = read_run_json(run_dir, must_exist=True)
                data.update(fields)
                write_run_json(run_dir, data)
        except FileNotFoundError:  # deleted meanwhile: never write a ghost record
            raise RunNotFound(f"no run {run_id!r} in {self.root}") from None
        return self._load(run_dir)

    def delete(self, run_id: str, force: bool = False) -> None:
        """Remove a run and its files. Under the run's lock, so that the scheduler, `resume`
        and `stop` either claim it before (and it is live: refused) or find it gone. A run of
        another host that looks stalled may be deleted with `force`."""
        run_dir = self.path(run_id)
        self.check_writable()
        try:
            with locked(run_dir / RUN_FILE):
                record = self._load(run_dir)
                if record.status in status.LIVE and not (force and record.status == status.STALLED):
                    raise RunBusy(f"run {record.name} ({run_id}) is {record.status}",
                                  f"stop it first: moetui stop {run_id}")
                if record.status == status.QUEUED:  # a pending Slurm job would start in a deleted run
                    _withdraw(read_run_json(run_dir), run_dir)
                trash = self.root / f".deleting-{run_id}-{os.getpid()}"
                run_dir.rename(trash)  # one atomic step: from now on nobody finds the run
        except FileNotFoundError:
            raise RunNotFound(f"no run {run_id!r} in {self.root}") from None
        shutil.rmtree(trash, ignore_errors=True)

    def check_writable(self) -> None:
        """Refuse at once, in one line, a store this process cannot change (read-only disk,
        no permission), before any half of a change is made."""
        if self.root.exists() and not self.root.is_dir():
            raise MoetuiError(f"cannot keep runs in {self.root}: not a directory",
                              f"choose another store with --runs-dir or ${RUNS_ENV}")
        target = self.root if self.root.exists() else self.root.parent
        if target.exists() and not os.access(target, os.W_OK | os.X_OK):
            raise MoetuiError(f"the run store {self.root} is read-only here",
                              f"use a writable store with --runs-dir or ${RUNS_ENV}")

    def queued(self) -> list[RunRecord]:
        """Runs waiting to start, in the order the scheduler starts them."""
        return in_queue_order(self.list())


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3`, ... when taken: a name must pick out one run in
    `show`, `stop` and the report's rows, so a second launch of `quick` is `quick-2`."""
    if name not in taken:
        return name
    return next(f"{name}-{n}" for n in itertools.count(2) if f"{name}-{n}" not in taken)


def _withdraw(data: dict[str, Any], run_dir: Path) -> None:
    try:
        backend_for(data).withdraw(data, run_dir)
    except BackendError as e:
        raise RunBusy(e.message, e.hint) from None


def _damaged(run_dir: Path, reason: str) -> RunRecord:
    return RunRecord(id=run_dir.name, name=run_dir.name, path=run_dir, status=status.DAMAGED, exit_reason=reason)


def in_queue_order(records: Iterable[RunRecord]) -> list[RunRecord]:
    """The queued runs among `records`, in the order the scheduler starts them: by
    `queue_order` (unset last), then by creation. Pure, so the TUI can order the records
    it already holds."""
    waiting = [r for r in records if r.status == "queued"]
    return sorted(waiting, key=lambda r: (r.queue_order if r.queue_order is not None else float("inf"),
                                          r.created or 0, r.id))
