"""A researcher's notes and tags on runs: what a tag may be, and changing them on a stored run.

Notes are free text ("lr too high, see the spike at 300"); tags are short words
(`baseline`, `paper-fig2`) that the runs filter finds as `#tag`. Both live in run.json
(`RunRecord.notes`, `.tags`) and are set at launch (`--note`, `--tag`, the launch form)
or afterwards (`moetui note`, `moetui tag`, `n` on the runs table). One set of rules
here, so that the CLI and the TUI refuse the same tags with the same words.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from moetui.errors import MoetuiError

MAX_TAG = 32
_TAG = re.compile(r"[\w.+-]+")  # one word: a tag is matched whole by the runs filter's `#tag`
_SEPARATORS = re.compile(r"[,\s]+")


class TagError(MoetuiError):
    """A tag a person typed that cannot be kept as one."""


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags as kept: without a leading `#`, each once, in the order given."""
    kept: list[str] = []
    for raw in tags:
        tag = raw.strip().removeprefix("#")
        if not _TAG.fullmatch(tag) or len(tag) > MAX_TAG:
            raise TagError(f"tag {raw!r}: use one word of letters, digits, '.', '_', '+' or '-', "
                           f"at most {MAX_TAG} characters", "e.g. --tag lr-sweep")
        if tag not in kept:
            kept.append(tag)
    return kept


def parse_tags(text: str) -> list[str]:
    """`baseline, #fig2 lr-sweep` -> ['baseline', 'fig2', 'lr-sweep'] (the form's one-line field)."""
    return clean_tags(word for word in _SEPARATORS.split(text) if word)


def clean_note(text: str | None) -> str | None:
    """The note as kept: trailing blanks dropped, empty means none."""
    text = (text or "").strip()
    return text or None


def retag(tags: list[str], add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
    gone = set(clean_tags(remove))
    return [tag for tag in clean_tags([*tags, *add]) if tag not in gone]


def hashtags(tags: list[str]) -> str:
    """`#fig2 #lr-sweep`: tags as the filter finds them."""
    return " ".join(f"#{tag}" for tag in tags)


def label(notes: str | None, tags: list[str]) -> str:
    """`#fig2 #lr-sweep lr too high`: tags then the note's first line, for one table cell."""
    first = notes.splitlines()[0] if notes else ""
    return f"{hashtags(tags)} {first}".strip()


def annotate(store: Any, run_id: str, **change: Any) -> Any:
    """Write `notes` and/or `tags` (already cleaned) to a stored run; returns its new record.
    Refused in one line on a store this process cannot write."""
    store.check_writable()
    return store.update(run_id, **change)
