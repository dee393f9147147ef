"""The TUI process: it opens fast (torch never enters it, the first frame comes quickly), and its exit status says whether it crashed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_FRAME = textwrap.dedent("""
    import asyncio, sys, time
    started = time.perf_counter()
    from moetui.runs import RunStore
    from moetui.tui import create_app
    import moetui.tui.app  # every screen and widget module

    async def main():
        app = create_app(RunStore(sys.argv[1]))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            print(f"{time.perf_counter() - started:.3f}", "torch" in sys.modules, type(app.screen).__name__)

    asyncio.run(main())
""")


PLANTED_FAULT = textwrap.dedent("""
    from moetui import history
    from moetui.cli import app

    def read_new(self):
        raise RuntimeError("planted fault")

    history.EventTail.read_new = read_new
    app([])
""")


def test_the_tui_process_never_imports_torch_and_draws_its_first_frame_fast(runs_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME, str(runs_dir)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    seconds, torch_loaded, screen = out.stdout.split()
    assert torch_loaded == "False"
    assert screen == "RunsScreen"
    print(f"first frame after {seconds} s")  # measured in docs/benchmarks.md (scripts/bench_tui.py), not asserted


def test_moetui_exits_non_zero_when_the_app_dies_and_zero_when_it_quits(runs_dir):
    """The command's exit status is the app's: Textual draws an unhandled exception's
    traceback and returns normally, so the command must still report failure. The fault is
    planted in the store watcher's event reader; the rest is the real command. The same
    command quit with ctrl+q (TEXTUAL_PRESS types it) exits 0."""
    from moetui.runs import RunStore
    from tests.tui_fixtures import quick_config

    env = {**os.environ, "PYTHONPATH": str(ROOT), "MOETUI_RUNS": str(runs_dir)}
    quit_ = subprocess.run([sys.executable, "-m", "moetui"], env={**env, "TEXTUAL_PRESS": "ctrl+q"},
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert quit_.returncode == 0, quit_.stderr
    RunStore(runs_dir).create(quick_config(), name="watched")  # so that the watcher reads events
    crash = subprocess.run([sys.executable, "-c", PLANTED_FAULT], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert crash.returncode == 1
    assert "planted fault" in crash.stdout + crash.stderr
