"""The one exception a user's data setting can cause.

Its own tiny module so that the corpus, tokenizer and cache code (which must import
cheaply, without torch) and the engine (which turns it into an `error` event of kind
`data`) share it.
"""

from __future__ import annotations


class DataError(Exception):
    """A user-fixable data problem: `message` says what and where, `hint` what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message, self.hint = message, hint
        super().__init__(f"{message} — {hint}" if hint else message)
