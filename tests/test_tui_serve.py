"""`moetui serve`: the real TUI served to a browser through textual-serve, to the holder of
the token only, from the server's own origin. A websocket client stands in for the browser
tab; one server process serves every story here."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from moetui.serve_auth import is_loopback, new_token, origin_allowed, own_origins, token_matches
from tests.cli_helpers import moetui

TOKEN = "a-token-the-test-knows"
EVIL = "http://evil.example"


@dataclass
class Served:
    port: int
    pid: int
    printed: str  # what the server printed

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the app processes a server has started)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


async def _get(url: str) -> tuple[int, aiohttp.SimpleCookie]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.cookies


async def _page(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


async def _handshake_status(url: str, origin: str, cookies: dict[str, str] | None = None) -> int:
    """101 when the server accepts the websocket, else the status it refused it with."""
    async with aiohttp.ClientSession(cookies=cookies) as session:
        try:
            async with session.ws_connect(url, origin=origin):
                return 101
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status


async def _first_screen(url: str, origin: str, cookies: dict[str, str] | None = None, timeout: float = 30) -> bytes:
    """What a browser tab of 100x30 receives until the runs screen shows."""
    received = b""
    async with aiohttp.ClientSession(cookies=cookies) as session, session.ws_connect(url, origin=origin) as ws:
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


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """`moetui serve` on an empty store, its token set through the environment as a script would."""
    tmp = tmp_path_factory.mktemp("serve")
    (tmp / "runs").mkdir()
    port = _free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moetui", "--runs-dir", str(tmp / "runs"), "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "MOETUI_SERVE_TOKEN": TOKEN})
    try:
        deadline = time.monotonic() + 30
        while asyncio.run(_get_or_none(f"http://localhost:{port}/?token={TOKEN}")) != 200:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Served(port, server.pid, log.read_text())
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _get_or_none(url: str) -> int | None:
    try:
        return (await _get(url))[0]
    except aiohttp.ClientConnectionError:  # not listening yet
        return None


# The checks themselves, as plain functions.

def test_only_the_exact_token_matches():
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(None, TOKEN)
    assert not token_matches("", TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert not token_matches("tökén", TOKEN)  # not ASCII: refused, not a TypeError


def test_fresh_tokens_are_long_random_and_url_safe():
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 43
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_on_loopback_every_loopback_name_is_our_origin_and_nothing_else():
    own = own_origins("localhost", 8000)
    for origin in (None, "http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"):
        assert origin_allowed(origin, own), origin
    for origin in (EVIL + ":8000", "http://localhost:3000", "https://localhost:8000", "null", "http://localhost"):
        assert not origin_allowed(origin, own), origin
    assert own_origins("127.0.0.1", 8000) == own


def test_off_loopback_only_the_served_host_is_our_origin():
    own = own_origins("GPU-Box.lan", 80)
    assert own == {"http://gpu-box.lan"}  # as browsers write it: lower case, no default port
    assert not origin_allowed("http://localhost", own)
    assert own_origins("fe80::1", 8000) == {"http://[fe80::1]:8000"}


def test_loopback_is_localhost_and_the_loopback_addresses():
    assert all(is_loopback(host) for host in ("localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "192.168.1.5", "gpu-box"))


# The command, without serving.

@pytest.fixture
def not_serving(monkeypatch):
    from moetui.serve_server import GuardedServer

    monkeypatch.setattr(GuardedServer, "serve", lambda self, debug=False: None)


def test_serve_prints_the_url_with_a_fresh_token(runs_dir, not_serving, monkeypatch):
    monkeypatch.delenv("MOETUI_SERVE_TOKEN", raising=False)
    first, second = moetui("serve"), moetui("serve")
    assert first.exit_code == 0 and "http://localhost:8000/?token=" in first.stdout
    assert first.stdout != second.stdout and first.stderr == ""  # a new token each time; no warning


def test_serve_takes_the_token_from_the_option_or_the_environment(runs_dir, not_serving, monkeypatch):
    monkeypatch.setenv("MOETUI_SERVE_TOKEN", "from-env")
    assert "http://localhost:9000/?token=from-env " in moetui("serve", "-p", "9000").stdout
    assert "/?token=from%20option%26 " in moetui("serve", "--token", "from option&").stdout
    empty = moetui("serve", "--token", "")
    assert empty.exit_code == 1 and "empty" in empty.stderr


def test_serve_off_loopback_warns_that_the_token_holder_can_drive_runs(runs_dir, not_serving):
    result = moetui("serve", "--host", "0.0.0.0")
    assert "http://0.0.0.0:8000/?token=" in result.stdout
    assert "not loopback" in result.stderr and "launch, stop and delete runs" in result.stderr


def test_serve_without_textual_serve_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "moetui.serve_server", raising=False)  # and never imported
    result = moetui("serve")
    assert result.exit_code == 1 and "pip install textual-serve" in result.stderr


# The real server. Refusals first: none of them may start an app process.

def test_the_server_prints_the_url_that_opens_it(served):
    assert f"http://localhost:{served.port}/?token={TOKEN}" in served.printed


def test_pages_without_the_token_are_refused(served):
    for path in ("/", "/?token=wrong", "/static/js/textual.js"):
        assert asyncio.run(_get_or_none(f"{served.origin}{path}")) == 403, path


def test_a_websocket_without_the_token_is_refused_and_starts_nothing(served):
    assert asyncio.run(_handshake_status(f"ws://localhost:{served.port}/ws", served.origin)) == 403
    assert asyncio.run(_handshake_status(f"ws://localhost:{served.port}/ws?token=wrong", served.origin)) == 403
    assert _children(served.pid) == []


def test_another_web_page_is_refused_even_with_the_token_and_starts_nothing(served):
    url = f"ws://localhost:{served.port}/ws?token={TOKEN}"
    assert asyncio.run(_handshake_status(url, EVIL)) == 403
    assert asyncio.run(_handshake_status(url, "http://localhost:3000")) == 403  # same site, other origin
    our_cookie = {f"moetui-serve-token-{served.port}": TOKEN}  # which a browser would attach
    assert asyncio.run(_handshake_status(f"ws://localhost:{served.port}/ws", EVIL, cookies=our_cookie)) == 403
    assert _children(served.pid) == []
    assert asyncio.run(_handshake_status(url, served.origin)) == 101  # the same handshake from our own page


def test_the_token_opens_the_page_and_the_websocket_gets_the_first_screen(served):
    screen = asyncio.run(_first_screen(f"ws://localhost:{served.port}/ws?token={TOKEN}", served.origin))
    assert b"No runs yet" in screen, screen[-500:]


def test_the_page_sets_a_cookie_that_lets_its_own_websocket_in(served):
    status, cookies = asyncio.run(_get(f"{served.origin}/?token={TOKEN}"))
    cookie = cookies[f"moetui-serve-token-{served.port}"]
    assert status == 200 and cookie.value == TOKEN
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    page = asyncio.run(_page(f"{served.origin}/?token={TOKEN}"))
    assert f"ws://localhost:{served.port}/ws" in page  # the page opens the app's websocket there
    with_cookie = {cookie.key: cookie.value}
    screen = asyncio.run(_first_screen(f"ws://localhost:{served.port}/ws", served.origin, cookies=with_cookie))
    assert b"No runs yet" in screen, screen[-500:]
