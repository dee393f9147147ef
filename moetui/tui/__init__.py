"""The Textual TUI. Importing this package is cheap: Textual is imported only when the app
is built, so the CLI's other commands never pay for it (and nothing here imports torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def create_app(store: Any, *, scan_interval: float = 0.5, redraw_interval: float = 0.5,
               export_dir: Path | None = None, sampler: Any = None, hardware_interval: float = 2.0):
    """The app factory shared by the CLI, `python -m moetui.tui` and the tests. `sampler`
    (a `moetui.hardware.Sampler`; the real one by default) feeds the hardware panels."""
    from moetui.tui.app import MoeTui

    return MoeTui(store, scan_interval=scan_interval, redraw_interval=redraw_interval, export_dir=export_dir,
                  sampler=sampler, hardware_interval=hardware_interval)


def run_tui(store: Any) -> int:
    """Run the app until it quits; returns its return code, for the process's exit status
    (Textual reports an unhandled exception as 1 after drawing the traceback, and returns
    normally: a caller that ignored the code would exit 0 from a crash)."""
    app = create_app(store)
    app.run()
    return app.return_code or 0
