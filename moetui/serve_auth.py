"""Who may drive the TUI served by `moetui serve`: the holder of its token, from its own origin.

The served TUI launches, stops and deletes runs, and a browser lets any web page the user
opens talk to localhost. Two checks, as in Jupyter, keep such pages out:

- a random token, printed with the URL at start: only someone who can read the terminal
  (or chose it with `--token` / `$MOETUI_SERVE_TOKEN`) can open the page, which then keeps
  it in a cookie for the page's own websocket;
- the `Origin` header: a browser always sends it on a websocket handshake, so a handshake
  from another page is refused even though the browser would attach our cookie to it
  (SameSite does not help there: `http://localhost:3000` is the same *site* as
  `http://localhost:8000`, only not the same *origin*).

Plain functions of strings, so they are tested without a server.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe, so it can ride in `?token=` as it is."""
    return secrets.token_urlsafe(32)


def token_matches(given: str | None, expected: str) -> bool:
    """Whether `given` (a query parameter or cookie; None when absent) is the token.

    Compared in constant time so the token cannot be guessed byte by byte from response
    times; as bytes, because `compare_digest` refuses non-ASCII `str` and a request may carry any.
    """
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def is_loopback(host: str) -> bool:
    """Whether serving on `host` keeps the server reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        return False


def origin_of(host: str, port: int) -> str:
    """`http://HOST:PORT` as a browser writes it in `Origin`: lower case, IPv6 in brackets,
    and no port when it is http's default."""
    name = f"[{host}]" if ":" in host else host
    return f"http://{name.lower()}" if port == 80 else f"http://{name.lower()}:{port}"


def own_origins(host: str, port: int) -> frozenset[str]:
    """The origins of pages this server serves on `host`:`port`.

    On loopback every name of this machine's loopback counts (a page opened as
    `http://127.0.0.1:8000` is ours too); otherwise only `host` itself.
    """
    names = _LOOPBACK_NAMES if is_loopback(host) else (host,)
    return frozenset(origin_of(name, port) for name in names)


def origin_allowed(origin: str | None, own: frozenset[str]) -> bool:
    """Whether a request with this `Origin` header (None when absent) may be served.

    Absent is allowed: browsers send it on every websocket handshake and cross-origin
    request, so its absence means a same-origin page load or a client that is not a browser
    (which the token still has to get past). `null` (sandboxed frames, files) is refused.
    """
    return origin is None or origin in own
