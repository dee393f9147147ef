"""Start and stop the engines of runs in the store, through their backend.

A run's engine runs in its own process session (moetui/spawn.py), so closing the
terminal, the TUI or the SSH connection that started it neither signals nor stops it;
its stdout is a pipe the launcher's caller may read (the engine keeps training when the
pipe closes) and its stderr goes to the run's engine.log. Claiming a run (status ->
running), stopping it and deleting it (RunStore.delete) happen under the run.json lock,
so the TUI, the CLI and the scheduler never start a run twice, never start a deleted
one, and never signal a process that is not the run's engine.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

from engine.config import Config
from engine.rundir import CHECKPOINT_FILE, CONFIG_FILE, EVENTS_FILE, RUN_FILE, locked, read_run_json, write_run_json
from moetui import status
from moetui.backends import BackendError, backend_for
from moetui.errors import MoetuiError
from moetui.history import load_history
from moetui.runs import RunRecord, RunStore, observe, record_problem, waits_in_cluster

_GPU = re.compile(r"\d+|(GPU|MIG)-[0-9A-Za-z/-]+")  # what CUDA_VISIBLE_DEVICES accepts


class LaunchError(MoetuiError):
    """A run cannot be started or stopped in its current state."""


def parse_gpus(gpu: str | int | list[str] | None) -> list[str]:
    """`"0,1"`, `1` or `["0", "1"]` -> ["0", "1"]; None -> [] (the engine's own device choice)."""
    if gpu is None:
        return []
    items = gpu if isinstance(gpu, list) else str(gpu).split(",")
    gpus = [str(g).strip() for g in items if str(g).strip()]
    bad = [g for g in gpus if not _GPU.fullmatch(g)]
    if bad:
        raise LaunchError(f"GPU {bad[0]!r} is not a device index or UUID", "give GPU numbers like 0 or 0,1")
    return gpus


def _check_startable(record: dict[str, Any], seen: status.Seen, run_dir: Path, resume: bool, force: bool) -> None:
    name = record.get("name") or run_dir.name
    if seen.status == status.STALLED and force and resume and backend_for(record).is_remote(record):
        return  # the person judged the engine of another host dead
    if seen.status in status.LIVE:
        remote = backend_for(record).is_remote(record)
        hint = ("if its host is gone for good, resume it with --force" if remote and seen.status == status.STALLED
                else f"stop it first: moetui stop {run_dir.name}")
        raise LaunchError(f"run {name} is already {seen.status} (pid {record.get('pid')} on {record.get('host')})", hint)
    if seen.status == status.QUEUED and waits_in_cluster(record):
        raise LaunchError(f"run {name} is already submitted (job {record.get('job_id')}: {seen.reason or 'waiting'})",
                          f"to take it back: moetui stop {run_dir.name}")
    if seen.status == status.DAMAGED:
        raise LaunchError(f"run {name} is damaged: {seen.reason}", "inspect or delete its directory: " + str(run_dir))
    again = shlex.join(["moetui", "run", str(run_dir / CONFIG_FILE), "--name", name])
    if resume and seen.status == status.COMPLETED:  # its checkpoint is at max_steps: a resume would only rewrite its record
        raise LaunchError(f"run {name} already completed; nothing to resume",
                          f"to train longer, continue it as a new run: moetui continue {run_dir.name} --steps N")
    if resume and not (run_dir / CHECKPOINT_FILE).is_file():
        raise LaunchError(f"run {name} has no checkpoint to resume from (status {seen.status})",
                          f"start a new run from its config: {again}")
    if not resume and seen.status != status.QUEUED:
        raise LaunchError(f"run {name} has already run (status {seen.status})",
                          f"resume it (moetui resume {run_dir.name}) or start a new run")


def _read_claimed(run_dir: Path) -> dict[str, Any]:
    """run.json of a run whose lock the caller holds; a deleted or damaged run is refused."""
    try:
        record = read_run_json(run_dir, must_exist=True)
    except FileNotFoundError:
        raise LaunchError(f"no run {run_dir.name!r} in {run_dir.parent} (deleted?)") from None
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: JSON nested too deep to parse
        raise LaunchError(f"run {run_dir.name} is damaged: unreadable {RUN_FILE} ({type(e).__name__})") from None
    problem = record_problem(record)
    if problem is not None:
        raise LaunchError(f"run {run_dir.name} is damaged: {problem}")
    return record


@contextlib.contextmanager
def _claiming(store: RunStore, run_id: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The run's directory and record, read under its lock, held for the block. A run
    deleted before or while waiting for the lock is "no run", never recreated."""
    run_dir = store.path(run_id)
    store.check_writable()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locked(run_dir / RUN_FILE))
        except FileNotFoundError:
            raise LaunchError(f"no run {run_id!r} in {store.root}") from None
        yield run_dir, _read_claimed(run_dir)


def launch(store: RunStore, run_id: str, resume: bool = False, gpu: str | int | list[str] | None = None,
           pipe: bool = True, force: bool = False) -> subprocess.Popen | None:
    """Start the engine for a stored run; returns the local process, with its stdout pipe when
    `pipe` (a caller that will not read it passes False: the pipe is then /dev/null). `force`
    resumes a run whose other host looks dead (stalled)."""
    gpus = parse_gpus(gpu)
    with _claiming(store, run_id) as (run_dir, record):
        return _claim_and_spawn(run_dir, record, resume, gpus, pipe, force)


def start_new(store: RunStore, config: Config, gpu: str | int | list[str] | None = None, pipe: bool = True,
              backend: dict[str, Any] | None = None, **fields: Any) -> tuple[RunRecord, subprocess.Popen | None]:
    """Create a run and start it at once, with no moment in which the scheduler could take
    it from the queue (`fields` as for `RunStore.create`). `backend`: run.json fields that
    hand it to another backend with its options, e.g. Slurm's (moetui/slurm_submit.py)."""
    gpus = parse_gpus(gpu)
    with store.creating(config, gpus_here=backend is None, **fields) as record:
        claimed = {**_read_claimed(record.path), **(backend or {})}
        process = _claim_and_spawn(record.path, claimed, False, gpus, pipe, False)
    return store.get(record.id), process


CONTINUABLE = (status.COMPLETED, status.STOPPED)  # ended where its checkpoint is, with good weights


def continued_config(parent: Config, at_step: int, steps: int, sets: list[str] | None = None) -> Config:
    """The config of a run that trains `steps` more steps from a parent's checkpoint at step
    `at_step`: the parent's, at a constant lr at the parent's floor (where its schedule
    ended), with no warmup -- unless `sets` names a schedule key, which then keeps the
    parent's schedule and lrs. `sets` (KEY=VALUE) apply last. The AdamW lr is set
    explicitly, so its derived rule (muon_lr / 10) cannot move it."""
    child = parent.copy()
    child.train.max_steps = at_step + steps
    if not any(item.split("=", 1)[0].strip().startswith("schedule.") for item in sets or []):
        floor = 1.0 if parent.schedule.decay == "constant" else parent.schedule.min_lr_ratio
        child.schedule.decay, child.schedule.warmup_steps, child.schedule.warmup_ratio = "constant", 0, 0.0
        child.optim.muon_lr, child.optim.adamw_lr = parent.optim.muon_lr * floor, parent.adamw_lr * floor
    return child.apply_overrides(sets or [], "--set").validate("--set")


def continue_run(store: RunStore, run_id: str, steps: int, sets: list[str] | None = None, name: str | None = None,
                 gpu: str | int | list[str] | None = None,
                 pipe: bool = True) -> tuple[RunRecord, subprocess.Popen | None]:
    """Start a new run (`parent` = this one) that resumes from a copy of a completed or
    stopped run's checkpoint for `steps` more steps (`continued_config`). The parent is
    only read, under its lock, so it cannot start meanwhile; the child runs on the parent's
    GPUs unless `gpu` says otherwise, and a Slurm run's child in a job with its options."""
    if steps < 1:
        raise LaunchError(f"--steps {steps}: continue for at least one step", "e.g. --steps 500")
    gpus = parse_gpus(gpu)
    with _claiming(store, run_id) as (parent_dir, parent):
        title = parent.get("name") or run_id
        seen = observe(parent, parent_dir)
        if seen.status not in CONTINUABLE:
            how = (f"resume it instead: moetui resume {run_id}" if seen.status in status.RESUMABLE
                   else "only a completed or stopped run can be continued")
            raise LaunchError(f"run {title} is {seen.status}", how)
        checkpoint = parent_dir / CHECKPOINT_FILE
        if not checkpoint.is_file():
            raise LaunchError(f"run {title} has no checkpoint to continue from",
                              f"start a new run from its config: moetui run {parent_dir / CONFIG_FILE}")
        at_step = load_history(parent_dir / EVENTS_FILE).last_step
        config = continued_config(Config.from_toml(parent_dir / CONFIG_FILE), at_step, steps, sets)
        # Created stopped, not queued: if the copy or the start fails, what is left is a run
        # `resume` can start, never one the scheduler would train from scratch.
        backend = _backend_of(parent)
        with store.creating(config, name=name or f"{title}+{steps}", preset=parent.get("preset"),
                            seed=parent.get("seed"), status=status.STOPPED, gpus_here=not backend) as record:
            child = {**_read_claimed(record.path), **backend, "parent": parent_dir.name}
            write_run_json(record.path, child)  # the parent's kind of run, even if its start fails
            try:
                shutil.copyfile(checkpoint, record.path / CHECKPOINT_FILE)
            except OSError as e:
                write_run_json(record.path, {**child, "status": status.FAILED,
                                           "exit_reason": f"could not copy {title}'s checkpoint: {e.strerror}"})
                raise LaunchError(f"cannot copy {checkpoint}: {e.strerror}", "free space in the run store") from None
            process = _claim_and_spawn(record.path, child, True, gpus or parse_gpus(parent.get("gpu")), pipe, False)
    return store.get(record.id), process


def _backend_of(record: dict[str, Any]) -> dict[str, Any]:
    """The run.json fields that hand a run to a backend other than local: its name, and its
    options under that name (see `start_new`)."""
    name = record.get("backend")
    return {} if name in (None, "local") else {"backend": name, name: record.get(name)}


def _claim_and_spawn(run_dir: Path, record: dict[str, Any], resume: bool, gpus: list[str], pipe: bool,
                     force: bool) -> subprocess.Popen | None:
    """Check, submit and record the engine; the caller holds the run.json lock. A resume
    without GPUs named goes back to the run's own: a two-GPU run continues on two, with
    the global batch it started with."""
    _check_startable(record, observe(record, run_dir), run_dir, resume, force)
    if resume and not gpus:
        gpus = parse_gpus(record.get("gpu"))
    try:
        submission = backend_for(record).submit(record, run_dir, resume, gpus, pipe)
    except BackendError as e:  # refused (Slurm's own words): a new run must not wait in the store's queue instead
        if not resume:
            write_run_json(run_dir, {**record, "status": status.FAILED, "ended": time.time(),
                                   "exit_reason": f"not started: {e.message}"})
        raise LaunchError(e.message, e.hint) from None
    record.update(status=status.RUNNING, gpu=",".join(gpus) or None, ended=None, exit_reason=None, exit_code=None,
                  stop_requested=None)
    record.update(submission.fields)  # a backend with a queue of its own says `queued`
    write_run_json(run_dir, record)
    return submission.process


def stop(store: RunStore, run_id: str) -> str:
    """Ask a live run to stop (SIGTERM to its verified engine: it checkpoints, then ends as
    stopped; the record says `stopping` meanwhile), or take a queued run off the queue
    (`cancelled`). Returns what was done, for the caller to tell the person."""
    with _claiming(store, run_id) as (run_dir, record):
        seen, name = observe(record, run_dir), record.get("name") or run_id
        if seen.status == status.QUEUED:
            try:
                backend_for(record).withdraw(record, run_dir)  # Slurm: scancel the pending job
            except BackendError as e:
                raise LaunchError(e.message, e.hint) from None
            record.update(status=status.CANCELLED, exit_reason="taken off the queue before it started",
                          ended=time.time())
            write_run_json(run_dir, record)
            return f"took {name} off the queue"
        if seen.status not in status.LIVE:
            raise LaunchError(f"run {name} is not running (status {seen.status})", "nothing to stop")
        try:
            backend_for(record).signal(record, run_dir, signal.SIGTERM)
        except BackendError as e:
            raise LaunchError(e.message, e.hint) from None
        record.update(status=status.STOPPING, stop_requested=time.time())
        write_run_json(run_dir, record)
    return f"asked {name} to stop (pid {record.get('pid')}); it saves a checkpoint first"


def wait_until_ended(store: RunStore, run_id: str, timeout: float, poll: float = 0.2) -> RunRecord | None:
    """The run's record once it is no longer live, or None if `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        record = store.get(run_id)
        if record.status not in status.LIVE:
            return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)
