"""Fail fast when the Hugging Face Hub cannot be reached.

Without this check `datasets` and `huggingface_hub` retry for half a minute or more
before giving up with a stack of connection errors; a user on an offline GPU box should
learn within seconds that the hub is out of reach and how to use local files instead.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from urllib.parse import urlparse

from engine.data_error import DataError

PROBE_TIMEOUT_S = 3.0
_TRUE = {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_offline_reason() -> str | None:
    """Why the hub is out of reach (offline mode set, or no TCP connection), or None."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return f"offline mode is set ({var}={os.environ[var]})"
    url = urlparse(hub_endpoint())
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy:  # through a proxy the hub is reachable exactly when the proxy is
        url = urlparse(proxy if "://" in proxy else f"http://{proxy}")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    return _probe(host, port)


def _probe(host: str, port: int) -> str | None:
    """Open a TCP connection in a daemon thread: `create_connection`'s timeout does not cover the
    DNS lookup, which on a machine without network can hang far longer than PROBE_TIMEOUT_S."""
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
            outcome.append(None)
        except OSError as e:
            outcome.append(f"cannot connect to {host}:{port} ({e.strerror or e})")

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT_S)
    return outcome[0] if outcome else f"no answer from {host}:{port} within {PROBE_TIMEOUT_S:g}s"


def require_hub(what: str, local_hint: str) -> None:
    """Raise DataError naming `what` needed the hub, why it is unreachable, and `local_hint`."""
    reason = hub_offline_reason()
    if reason is not None:
        raise DataError(f"{what} needs the Hugging Face Hub ({hub_endpoint()}), which cannot be reached: {reason}",
                        local_hint)
