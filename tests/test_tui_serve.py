"""`moetui serve`: the real TUI served to a browser through textual-serve. A websocket
client stands in for the browser tab and must receive the app's first screen."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request

import aiohttp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


async def _first_screen(port: int, timeout: float) -> bytes:
    """What a browser tab of 100x30 receives until the runs screen shows."""
    received = b""
    async with aiohttp.ClientSession() as session, session.ws_connect(f"http://localhost:{port}/ws") as ws:
        await ws.send_str(json.dumps(["resize", {"width": 100, "height": 30}]))
        deadline = time.monotonic() + timeout
        while b"No runs yet" not in received and time.monotonic() < deadline:
            try:
                message = await ws.receive(timeout=1)
            except asyncio.TimeoutError:
                continue
            if message.type != aiohttp.WSMsgType.BINARY:
                break
            received += message.data
    return received


def test_serve_runs_the_tui_for_a_browser(runs_dir):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moetui", "--runs-dir", str(runs_dir), "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = urllib.request.urlopen(f"http://localhost:{port}/", timeout=2).read().decode()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server never answered"
                time.sleep(0.2)
        assert f"ws://localhost:{port}/ws" in page  # the page that opens the app's websocket
        screen = asyncio.run(_first_screen(port, timeout=30))
        assert b"No runs yet" in screen, screen[-500:]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_without_textual_serve_says_how_to_get_it(monkeypatch):
    from tests.cli_helpers import moetui

    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # as if it were not installed
    result = moetui("serve")
    assert result.exit_code == 1 and "pip install textual-serve" in result.stderr

