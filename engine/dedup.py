"""Repeated text: dropped before the train/validation split, and measured after it.

Splitting by document keeps a validation document out of training, but not a copy of its
text inside another document. The embedded corpus is full of such copies: pydoc's topics
nest (the "Compound statements" topic holds the "for", "try" and "with" topics word for
word), and docstrings are copied between a class and its subclasses, `_pyio` and `io`, one
codec and the next. Before the paragraph rule below, 12.6 % of the quick preset's 32-token
validation windows occurred word for word in its training tokens, so every validation
score was optimistic (docs/benchmarks.md, "Embedded corpus: train/validation overlap").
Pure functions of their arguments; the same input gives the same output under any
PYTHONHASHSEED (sets only answer membership, never decide an order).
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Iterator

import numpy as np

SHINGLE_WORDS = 8  # long enough that shared phrases ("Return the value of the") rarely make a match
# Over split seeds 42 and 0-3 of the quick preset, 0.5 leaves at most 0.16 % of validation windows in
# training; exact repeats alone (1.0) left up to 0.42 %, 0.8 up to 0.57 %; 0.3 drops 2.6 % more text for ~0.05 %.
MOSTLY_SEEN = 0.5
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so no token's weight is ever 0 mod 2^64


def fresh_paragraphs(documents: Iterable[str]) -> Iterator[str]:
    """The documents, each without the paragraphs that repeat earlier text, in the same order.

    A paragraph (blank-line separated) goes when its text, ignoring case and whitespace, was
    seen before, or when more than half of its 8-word shingles occur in paragraphs kept
    earlier. A document left without a paragraph of 8 words goes entirely: a heading whose
    body was a repeat, or a line too short to teach anything. First come, first kept, so the
    result depends on the order."""
    seen_paragraphs: set[bytes] = set()
    seen_shingles: set[tuple[str, ...]] = set()
    for document in documents:
        kept, substantial = [], False
        for paragraph in _PARAGRAPH_BREAK.split(document):
            words = paragraph.lower().split()
            digest = _digest(words)
            if not words or digest in seen_paragraphs:
                continue
            shingles = set(zip(*(words[i:] for i in range(SHINGLE_WORDS))))
            if len(shingles & seen_shingles) > MOSTLY_SEEN * len(shingles):
                continue
            seen_paragraphs.add(digest)
            seen_shingles |= shingles
            kept.append(paragraph.strip("\n"))
            substantial = substantial or bool(shingles)
        if substantial:
            yield "\n\n".join(kept)


def distinct(texts: Iterable[str]) -> Iterator[str]:
    """The texts less those equal to an earlier one, ignoring case and whitespace.

    Every source goes through this: a repeated document lands on both sides of a 10 %
    validation split 18 % of the time, and dropping a copy never drops information. Only
    the embedded corpus gets `fresh_paragraphs` too: a local or Hub corpus is the user's
    text (code and dialogue repeat paragraphs on purpose), and the Hub's large corpora
    are deduplicated by their makers; the overlap measure below tells when one is not."""
    seen: set[bytes] = set()
    for text in texts:
        digest = _digest(text.lower().split())
        if digest not in seen:
            seen.add(digest)
            yield text


def window_overlap(train: np.ndarray, val: np.ndarray, window: int = 32, stride: int = 32) -> float:
    """Share of validation windows (`window` tokens, every `stride` tokens) whose exact token
    sequence occurs anywhere in `train`: what a model can score on by recall alone.

    Windows are compared by a 64-bit polynomial hash of their tokens (an 8-byte number a
    window, so a million-token corpus costs megabytes, not a set of Python objects); a
    collision could only overstate the share."""
    if len(val) < window:
        raise ValueError(f"{len(val)} validation tokens hold no {window}-token window")
    val_hashes = _window_hashes(val, window)[::stride]
    return float(np.isin(val_hashes, _window_hashes(train, window)).mean())


def _window_hashes(tokens: np.ndarray, window: int) -> np.ndarray:
    """Hash of tokens[i:i + window] for every i, built one token column at a time."""
    ids = np.asarray(tokens, dtype=np.uint64) + np.uint64(1)  # + 1: a leading 0 token still counts
    n = len(ids) - window + 1
    hashes = np.zeros(max(n, 0), dtype=np.uint64)
    if n <= 0:
        return hashes
    for k in range(window):
        hashes = hashes * _HASH_BASE + ids[k:k + n]  # wraps mod 2^64, as intended
    return hashes


def _digest(words: list[str]) -> bytes:
    """16 bytes for a text's words (so case and spacing do not count): a set of these costs
    far less than a set of the texts."""
    return hashlib.blake2b(" ".join(words).encode(), digest_size=16).digest()
