"""The last lines of a text file, read from its end (an engine.log can be long)."""

from __future__ import annotations

from pathlib import Path


def tail_lines(path: Path, max_lines: int = 200, max_bytes: int = 64 * 1024) -> list[str]:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:  # missing, a directory, unreadable: one odd run must not take its screen down
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if len(data) == max_bytes and size > max_bytes:
        lines = lines[1:]  # the first line was cut by the window
    return lines[-max_lines:]
