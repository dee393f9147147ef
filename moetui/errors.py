"""The one exception type for mistakes a person can fix (bad name, bad override, wrong state).

The CLI prints it as a single line and exits non-zero; the TUI shows it in a notification.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class MoetuiError(Exception):
    """What went wrong, where, and (when there is one) how to fix it, in one line."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message, self.hint = message, hint
        super().__init__(f"{message}; {hint}" if hint else message)
