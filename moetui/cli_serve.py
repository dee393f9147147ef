"""`moetui serve`: the TUI in a web browser, through textual-serve.

Each browser tab gets its own `moetui` process on this machine (the server runs the same
command a person would type), so the browser sees exactly the terminal app and the same
run store. Since that app can launch, stop and delete runs, only the holder of a token
printed at start, from the server's own origin, gets in (`serve_auth` says why).
textual-serve is an optional extra (`pip install -e ".[serve]"`); without it the command
says how to get it.
"""

from __future__ import annotations

import os
import shlex
from typing import Annotated, Optional

import typer

from moetui.cli_common import RunsDir, fail, store_from
from moetui.serve_auth import is_loopback, new_token
from moetui.spawn import child_env, python_command


def serve_command(
    runs_dir: RunsDir = None,
    host: Annotated[str, typer.Option(
        "--host", help="Name or address to serve on, as browsers reach it (the page's websocket and allowed origin)")
    ] = "localhost",
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="TCP port")] = 8000,
    token: Annotated[Optional[str], typer.Option(
        "--token", envvar="MOETUI_SERVE_TOKEN", show_default=False,
        help="Token the browser must present (default: a fresh random one, printed with the URL)")] = None,
) -> None:
    """Serve the TUI to a browser at http://HOST:PORT/?token=... (one app process per tab)."""
    try:
        from moetui.serve_server import GuardedServer
    except ImportError:
        raise fail("textual-serve is not installed; install it with: python -m pip install textual-serve") from None
    if token == "":
        raise fail("--token (or $MOETUI_SERVE_TOKEN) is empty; give a secret, or leave it unset for a random one")
    root = store_from(runs_dir).root.resolve()
    command = shlex.join(python_command("moetui", "--runs-dir", str(root)))
    os.environ.update(child_env())  # textual-serve starts each tab's app with this process's environment
    server = GuardedServer(command, host=host, port=port, token=token or new_token(), title="moetui")
    if not is_loopback(host):
        typer.echo(f"moetui: warning: serving on {host}, not loopback: anyone who reaches it with the token "
                   "can launch, stop and delete runs", err=True)
    typer.echo(f"moetui serve: open {server.url_with_token}  (Ctrl+C to quit)")
    server.serve()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
