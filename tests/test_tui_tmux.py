"""The real app in a real terminal: scripts/tui_tmux_check.sh drives it through tmux."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "tui_tmux_check.sh"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_the_app_works_in_tmux_at_80x24():
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: tmux check passed" in out.stdout
