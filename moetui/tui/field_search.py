"""Find a launch form field by part of its name or help.

The form has some forty fields in eight sections, so `train.max_steps` sits about thirty
tab presses down; typed into the field finder (`ctrl+g`) it is a few letters away. The
search is a plain function, run on every keystroke and again on enter, so enter always
picks the best match for what was typed, never a list left over from an earlier letter.
"""

from __future__ import annotations

from functools import cache

from textual.fuzzy import Matcher

from engine.config import iter_fields


@cache
def _fields() -> tuple[tuple[str, str], ...]:
    """(key, `section.key — help`): the help is searched too, so its words ("learning
    rate", "context") find a field whose name a person does not remember."""
    return tuple((spec.key, f"{spec.key} — {spec.help}") for spec in iter_fields())


def search(query: str) -> list[tuple[str, str]]:
    """(key, text) of the fields matching `query`, best first; every field for no query."""
    query = query.strip()
    if not query:
        return list(_fields())
    matcher = Matcher(query)
    # A name match ranks above a help match: "max_steps" is train.max_steps, not the warmup
    # field whose help mentions max_steps.
    scored = [(max(matcher.match(key), matcher.match(text) / 2), i) for i, (key, text) in enumerate(_fields())]
    return [_fields()[i] for score, i in sorted(scored, key=lambda hit: (-hit[0], hit[1])) if score > 0]
