"""One engine process from start to exit: run.json, the end event, errors, exit code.

Every way a run can end is mapped here to an `end` status, an `error` event where the
user has something to fix, the record in run.json and the process exit code:

    completed, stopped              exit 0 (stopped before the loop: `error` kind interrupted)
    failed: config / data / oom      exit 2 / 3 / 4, with an `error` event saying what to do
    diverged                        exit 5: a guard tripped (non-finite loss or weights, a loss
                                    spike, a throughput collapse: engine/guards.py); the reason
                                    names the guard and the step
    failed: disk                    exit 6: the run directory could not be written (full,
                                    read-only, I/O error); the error names the file
    failed: checkpoint              exit 7: --resume found checkpoint.pt damaged
    failed: a bug                   exit 1, `error` kind internal, traceback in engine.log

When events.jsonl itself is what cannot be written, the error still reaches engine.log,
the pipe and run.json (when that can be written).
"""

from __future__ import annotations

import functools
import time
import traceback
from pathlib import Path

import torch

from engine.checkpoint import CheckpointError
from engine.config import Config, ConfigError
from engine.data_error import DataError
from engine.distributed import World, join, leave, stop_pid
from engine.events import EventSink, log
from engine.protocol import make_event
from engine.rundir import (CHECKPOINT_FILE, EVENTS_FILE, DiskError, read_run_json, remove_stale_temp_files,
                           update_run_json)
from engine.identity import identify
from engine.stop import StopRequest
from engine.train import Trainer

EXIT_CODES = {"completed": 0, "stopped": 0, "interrupted": 0, "internal": 1, "config": 2, "data": 3, "oom": 4, "diverged": 5,
              "disk": 6, "checkpoint": 7}
OOM_HINT = ("lower train.batch_size and raise train.gradient_accumulation_steps by the same factor "
            "(same tokens per step), shorten model.max_seq_len, or turn on train.use_amp")


def pick_device(name: str) -> torch.device:
    """train.device -> a torch device; asking for hardware that is absent is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device", name, "CUDA is not available here; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device", name, "MPS is not available here; use auto or cpu")
    return torch.device(name)


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU allocator a RuntimeError that says so."""
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "can't allocate memory" in str(error))


def load_config(path: Path) -> Config:
    if not Path(path).is_file():
        raise ConfigError("--config", str(path), "no such file (a run directory keeps its config.toml from creation); "
                                                 "start a new run from a preset: moetui run PRESET")
    return Config.from_toml(Path(path)).validate(str(path))


def run_engine(config_path: Path, run_dir: Path, resume: bool = False, sink: EventSink | None = None,
               stop: StopRequest | None = None, world: World = World()) -> int:
    """Train one run (or its continuation); returns the process exit code. Never raises
    for anything a run can do: each outcome ends in exactly one `end` event. Under
    torchrun every rank calls this; only rank 0 (whose `sink` writes) records the run."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    sink = sink or EventSink(run_dir / EVENTS_FILE if world.is_main else None)
    record = functools.partial(update_run_json, run_dir) if world.is_main else lambda **_: None
    started = time.time()
    status, reason, code = "failed", "", 1
    try:
        if world.is_main:
            _remove_stale_temp_files(run_dir)
        cfg = load_config(config_path)
        if stop is not None and stop.requested:  # asked to stop while the interpreter loaded
            raise KeyboardInterrupt
        device = join(world, pick_device(cfg.train.device))
        identity = identify(stop_pid(world))
        first_start = _first_start(run_dir) if resume and world.is_main else None
        record(status="running", **(identity.record() if identity else {}), device=_devices(device, world),
               stall_after=cfg.train.stall_after, started=first_start or started,
               resumed=started if first_start else None, ended=None, exit_reason=None)
        outcome = Trainer(cfg, run_dir, device, sink, resume, stop, world).run()
        status, code = outcome.status, EXIT_CODES[outcome.status]
        reason = {"completed": f"finished {outcome.progress.step} steps", "stopped": "stop requested",
                  "diverged": outcome.reason}[status]
        if world.is_main:
            log(_ended_line(status, outcome.progress.step, reason, run_dir))
    except ConfigError as e:
        reason, code = _fail(sink, started, "config", str(e), "fix the value in the config or the --set override")
    except DataError as e:
        reason, code = _fail(sink, started, "data", e.message, e.hint)
    except DiskError as e:
        again = (f"resume the run: moetui resume {run_dir.name}" if (run_dir / CHECKPOINT_FILE).is_file()
                 else "start the run again")
        reason, code = _fail(sink, started, "disk", e.message, f"{e.hint}, then {again}")
    except CheckpointError as e:
        reason, code = _fail(sink, started, "checkpoint", e.message, e.hint)
    except KeyboardInterrupt:  # a signal before the loop, or a second one during it
        status = "stopped"
        reason, code = _fail(sink, started, "interrupted", "interrupted before a checkpoint was saved",
                             "start the run again (or resume from an earlier checkpoint)", status)
    except Exception as e:
        if is_out_of_memory(e):
            reason, code = _fail(sink, started, "oom", f"out of memory: {str(e).strip().splitlines()[0]}", OOM_HINT)
        else:  # a bug: say so in the protocol, keep the traceback for the log
            log(traceback.format_exc())
            reason, code = _fail(sink, started, "internal", f"{type(e).__name__}: {e}", "this is a bug; see engine.log")
    finally:
        sink.close()
        leave(world)
    try:
        record(status=status, ended=time.time(), exit_reason=reason, exit_code=code)
    except OSError as e:  # the store itself failed: engine.log has the reason; readers see the engine gone
        log(f"could not record the end in run.json: {e}")
    return code


def _first_start(run_dir: Path) -> float | None:
    """When the run first started (a resume keeps it; `resumed` records the latest start)."""
    try:
        first = read_run_json(run_dir).get("started")
    except (OSError, ValueError, AttributeError):  # unreadable, or not an object: no first start known
        return None
    return first if isinstance(first, (int, float)) and not isinstance(first, bool) else None


def _ended_line(status: str, step: int, reason: str, run_dir: Path) -> str:
    """engine.log's last word on a run that trained, so that `moetui logs` tells how it ended."""
    if status == "stopped":
        return f"stopped at step {step} (a stop was requested); resume with: moetui resume {run_dir.name}"
    if status == "diverged":
        return f"diverged at step {step} because {reason}"
    return f"{status}: {reason}"


def _devices(device: torch.device, world: World) -> str:
    """What run.json shows: `cuda:0`, or `cuda x 4` / `cpu x 2` for a data-parallel run."""
    return f"{device.type} x {world.size}" if world.distributed else str(device)


def _remove_stale_temp_files(run_dir: Path) -> None:
    removed = remove_stale_temp_files(run_dir)
    if removed:
        log(f"removed {len(removed)} temp file(s) of writes a kill interrupted: {', '.join(removed)}")


def _fail(sink: EventSink, started: float, kind: str, message: str, hint: str,
          status: str = "failed") -> tuple[str, int]:
    """Emit `error` then `end` (engine.log first: the events file may be what failed);
    return (exit reason, exit code)."""
    log(f"error ({kind}): {message}\n  hint: {hint}")
    for event in (make_event("error", kind=kind, message=message, hint=hint),
                  make_event("end", step=None, status=status, metrics={}, wall_time=round(time.time() - started, 3))):
        try:
            sink.emit(event)
        except OSError as e:  # the file failed just now; the pipe and listeners still got the event
            log(f"events.jsonl: {e}")
    return f"{kind} error: {message}", EXIT_CODES[kind]
