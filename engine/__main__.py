"""`python -m engine --config FILE --run-dir DIR [--resume]`: train one run.

Stdout carries protocol lines only (the same lines go to DIR/events.jsonl); human logs
go to stderr. SIGTERM and SIGINT stop the run gracefully: checkpoint, then `end` with
status stopped and exit code 0. Exit codes are listed in engine/lifecycle.py. Under
torchrun every rank runs this; rank 0 alone writes events, run.json and checkpoints.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from engine.stop import StopRequest


def main(argv: list[str] | None = None) -> int:
    # Before torch loads (a second or two): a stop in that time is noted, not fatal.
    stop = StopRequest()
    stop.interruptible = False
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.request())
    # A launcher may spawn the engine with these blocked, so that a stop sent while the
    # interpreter itself starts (before any line of ours runs) waits for the handlers
    # above instead of killing the process; it is delivered, and noted, here.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="resolved config TOML (the run's config.toml)")
    parser.add_argument("--run-dir", type=Path, required=True, help="run directory (events.jsonl, checkpoint.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    args = parser.parse_args(argv)

    from engine.distributed import World
    from engine.events import EventSink
    from engine.heartbeat import Heartbeat
    from engine.lifecycle import run_engine
    from engine.rundir import EVENTS_FILE, HEARTBEAT_FILE

    args.run_dir.mkdir(parents=True, exist_ok=True)
    world = World.from_env()  # torchrun: one process per GPU, of which rank 0 speaks for the run
    sink = (EventSink(args.run_dir / EVENTS_FILE, sys.stdout, heartbeat=Heartbeat(args.run_dir / HEARTBEAT_FILE))
            if world.is_main else EventSink(None))
    stop.interruptible = True
    return run_engine(args.config, args.run_dir, args.resume, sink, stop, world)


if __name__ == "__main__":
    sys.exit(main())
