"""Run statuses: which ones `run.json` stores, which ones readers derive, and what each allows.

One module so that `ls`, the TUI, the scheduler, `stop`/`resume`/`rm` and the report agree
on what "live", "finished", "resumable" and "fit for statistics" mean. Pure logic: the
caller brings what it observed (is the recorded process still ours, how old is the
heartbeat), `derive` turns that and the stored status into the status a person sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.protocol import END_STATUSES

QUEUED, RUNNING, STOPPING = "queued", "running", "stopping"
COMPLETED, STOPPED, CANCELLED, FAILED, DIVERGED = "completed", "stopped", "cancelled", "failed", "diverged"
CRASHED, STALLED, DAMAGED = "crashed", "stalled", "damaged"

# What run.json may say: the engine writes running and its end status, the store queued,
# stopping (a stop was asked for) and cancelled (taken off the queue before it ran).
STORED = (QUEUED, RUNNING, STOPPING, *END_STATUSES, CANCELLED)
# What readers conclude and never write: the engine is gone without an end (crashed), it
# made no progress for too long (stalled), the record cannot be read (damaged).
DERIVED = (CRASHED, STALLED, DAMAGED)
ALL = (QUEUED, RUNNING, STOPPING, STALLED, COMPLETED, STOPPED, CANCELLED, FAILED, DIVERGED, CRASHED, DAMAGED)

# An engine process may exist: not startable, not deletable, occupies its GPUs.
LIVE = (RUNNING, STOPPING, STALLED)
# Still expected to change by itself: followed live by the views.
ACTIVE = (QUEUED, *LIVE)
# Nothing will change it any more unless a person resumes it.
TERMINAL = (COMPLETED, STOPPED, CANCELLED, FAILED, DIVERGED, CRASHED, DAMAGED)
# May continue from its checkpoint (`resume`); a stalled run of another host needs --force.
RESUMABLE = (STOPPED, FAILED, DIVERGED, CRASHED)
# Ended badly: the TUI tells the person when a run it shows turns into one of these.
BAD = (FAILED, DIVERGED, CRASHED, DAMAGED)
# Whose final metrics a verdict may use as they stand (running and stopped runs count only
# up to the step they reached; see the report).
SOUND = (COMPLETED,)

# A run of another host (or a cluster node) is judged by its heartbeat alone; its run
# store may sit on a network filesystem whose attribute cache lags by up to a minute.
REMOTE_GRACE_S = 60.0
DEFAULT_STALL_AFTER_S = 300.0


class Liveness:
    """What a backend can say about the process a record names."""
    ALIVE = "alive"  # verified: the very process that was started, still running
    GONE = "gone"  # verified: it no longer exists (or its PID now belongs to another process)
    UNKNOWN = "unknown"  # cannot be checked from here (another host): judge by the heartbeat
    PENDING = "pending"  # waits in a cluster scheduler's queue (Slurm): it starts by itself


@dataclass(frozen=True)
class Seen:
    """A status as a person should see it, with why when it differs from the stored one."""
    status: str
    reason: str | None = None


def derive(stored: str, liveness: str, heartbeat_age: float | None, stall_after: float,
           remote: bool = False, submitted: bool = False, why: str | None = None) -> Seen:
    """The status of a run whose record says `stored`.

    `heartbeat_age`: seconds since the engine last showed progress (None: no heartbeat yet,
    e.g. an engine still importing torch). Only live statuses are re-judged: a finished
    run's record is the engine's own last word. A queued run `submitted` to a cluster
    scheduler is judged by what the scheduler says (`liveness`, and `why`, its words):
    still waiting, started (before the engine could say so), or gone without a start."""
    if stored not in (RUNNING, STOPPING) and not (submitted and stored == QUEUED):
        return Seen(stored)
    if liveness == Liveness.PENDING:
        return Seen(QUEUED, why)
    if liveness == Liveness.GONE:
        if stored == QUEUED:
            return Seen(CRASHED, why or "its job ended before the engine started")
        if stored == STOPPING:
            return Seen(CRASHED, why or "the engine ended while stopping, without saying how (killed?)")
        return Seen(CRASHED, why or "the engine process is gone without an end (killed, out of memory, or a reboot)")
    if stored == QUEUED:  # the job runs; the engine records its start once torch has loaded
        return Seen(RUNNING, why)
    limit = stall_after + (REMOTE_GRACE_S if remote else 0.0)
    if heartbeat_age is not None and heartbeat_age > limit:
        where = "its host" if remote else "the engine"
        return Seen(STALLED, f"no sign of progress from {where} for {heartbeat_age:.0f}s "
                             f"(paused, hung, or its host is down)")
    return Seen(stored, why)
