"""Helpers for driving the TUI in Pilot tests."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Callable


async def until(pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Let the app run until `condition()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.1)


async def fill_form(pilot, values: dict[str, object]) -> None:
    """Type config values into the launch form, opening each field's section first (closed
    sections are built only when opened)."""
    from textual.widgets import Input

    from moetui.tui.widgets.config_form import ConfigForm

    screen = pilot.app.screen
    await until(pilot, lambda: screen.query(ConfigForm), what="the launch form")
    form = screen.query_one(ConfigForm)
    for key, value in values.items():
        await form.focus_field(key)
        screen.query_one(f"#edit-{key.replace('.', '-')}", Input).value = str(value)
    await pilot.pause()


def scenario(coroutine_function):
    """Run an async test body with asyncio (no async plugin needed); fixtures pass through."""

    @functools.wraps(coroutine_function)
    def test(*args, **kwargs):
        asyncio.run(coroutine_function(*args, **kwargs))

    return test
