"""The one way moetui starts a child process: engines, torchrun, the scheduler, serve's apps.

Every child runs `python -P` with PYTHONSAFEPATH=1 in its environment, so neither it nor
anything it starts (torchrun's ranks) puts the current directory on `sys.path`: a project
of the user's with its own `engine/` package or a `numpy.py` must not replace ours. The
package root goes on PYTHONPATH instead, so a child finds the same `engine` and `moetui`
as this process even when running from an uninstalled checkout. Children get a session
of their own (closing the terminal or the SSH connection does not signal them), no
stdin, and unbuffered output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Mapping

import moetui

PACKAGE_ROOT = str(Path(moetui.__file__).resolve().parent.parent)  # holds moetui/ and engine/
# Set for every child beside PYTHONPATH (Slurm job scripts export the same: moetui/slurm_script.py).
CHILD_SETTINGS = {"PYTHONSAFEPATH": "1", "PYTHONUNBUFFERED": "1"}

Target = int | IO | None


def python_command(module: str, *args: str) -> list[str]:
    """`python -P -m MODULE ARGS` with this interpreter."""
    return [sys.executable, "-P", "-m", module, *args]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    env.update(CHILD_SETTINGS)
    env.update(extra or {})
    return env


def spawn(command: list[str], *, stdout: Target, stderr: Target, env: Mapping[str, str] | None = None,
          ) -> subprocess.Popen:
    """Start `command` detached from this process's session (see the module docstring)."""
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            env=child_env(env), start_new_session=True)
