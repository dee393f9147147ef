"""The TUI opens fast: torch never enters its process, and the first frame comes quickly."""

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


def test_the_tui_process_never_imports_torch_and_draws_its_first_frame_fast(runs_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME, str(runs_dir)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    seconds, torch_loaded, screen = out.stdout.split()
    assert torch_loaded == "False"
    assert screen == "RunsScreen"
    # Well under a second on an idle machine (about 0.4 s measured); the slack is for busy CI cores.
    assert float(seconds) < 3.0, f"first frame after {seconds} s"
