"""Train/validation split by document, decided before any tokenising.

Splitting documents (not token windows) is what keeps validation text out of training:
the seed project's early versions cut one token stream into overlapping windows and
reported ~99% validation accuracy. Pure functions of their arguments.
"""

from __future__ import annotations

import numpy as np

from engine.data_error import DataError


def split_documents(n_docs: int, val_fraction: float, seed: int, what: str) -> np.ndarray:
    """A bool mask, True for validation documents: round(n * val_fraction) of them, at least one,
    chosen by a permutation seeded with `seed`."""
    if n_docs < 2:
        raise DataError(f"{what} has {n_docs} document(s); a train/validation split needs at least 2",
                        "use a larger corpus (for a .txt file, separate documents by blank lines)")
    n_val = min(max(1, round(n_docs * val_fraction)), n_docs - 1)
    is_val = np.zeros(n_docs, dtype=bool)
    is_val[np.random.default_rng(seed).permutation(n_docs)[:n_val]] = True
    return is_val


def token_budgets(max_tokens: int, val_fraction: float) -> tuple[int, int]:
    """(train, validation) token caps; 0 = unlimited. max_tokens is shared in the split's
    proportion, so "500k tokens, 10% validation" keeps ~450k for training as the seed runs did."""
    if not max_tokens:
        return 0, 0
    val = max(1, round(max_tokens * val_fraction))
    return max(1, max_tokens - val), val
