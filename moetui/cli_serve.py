"""`moetui serve`: the TUI in a web browser, through textual-serve.

Each browser tab gets its own `moetui` process on this machine (the server runs the same
command a person would type), so the browser sees exactly the terminal app and the same
run store. textual-serve is an optional extra (`pip install -e ".[serve]"`); without it
the command says how to get it.
"""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from moetui.cli_common import RunsDir, fail, store_from


def serve_command(
    runs_dir: RunsDir = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every one)")] = "localhost",
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="TCP port")] = 8000,
) -> None:
    """Serve the TUI to a browser at http://HOST:PORT (one app process per tab)."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise fail("textual-serve is not installed; install it with: python -m pip install textual-serve") from None
    root = store_from(runs_dir).root.resolve()
    command = shlex.join([sys.executable, "-m", "moetui", "--runs-dir", str(root)])
    Server(command, host=host, port=port, title="moetui").serve()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
