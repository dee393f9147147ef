"""Train and validation hold different documents (the seed project's leak), chosen by the seed."""

from __future__ import annotations

import numpy as np

from engine.config import Config
from engine.data import prepare_data
from engine.split import split_documents, token_budgets


def documents(tokens: np.ndarray, eos: int) -> list[bytes]:
    """Token sequences between end-of-text tokens, as hashable bytes."""
    cuts = np.flatnonzero(tokens == eos)
    return [tokens[a + 1:b].tobytes() for a, b in zip(np.r_[-1, cuts[:-1]], cuts)]


def test_split_is_deterministic_from_the_seed_and_sized_by_val_fraction():
    a, b, c = (split_documents(1000, 0.1, seed, "corpus") for seed in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.sum() == c.sum() == 100
    assert split_documents(3, 0.01, 0, "corpus").sum() == 1  # never an empty validation set
    assert split_documents(2, 0.9, 0, "corpus").sum() == 1  # never an empty training set


def test_token_budgets_share_max_tokens_in_the_split_proportion():
    assert token_budgets(500_000, 0.1) == (450_000, 50_000)
    assert token_budgets(0, 0.1) == (0, 0)


def test_no_validation_document_appears_in_training(token_cache_dir):
    prepared = prepare_data(Config(), token_cache_dir, lambda e: None)
    eos = prepared.info["eos_id"]
    train, val = documents(prepared.train_tokens, eos), documents(prepared.val_tokens, eos)
    assert (len(train), len(val)) == (prepared.info["train_documents"], prepared.info["val_documents"])
    assert len(val) >= 50
    assert not set(val) & set(train)


def test_another_split_seed_holds_out_other_documents(token_cache_dir):
    base = prepare_data(Config(), token_cache_dir, lambda e: None)
    cfg = Config()
    cfg.data.split_seed = 1
    other = prepare_data(cfg, token_cache_dir, lambda e: None)
    assert other.key != base.key
    eos = base.info["eos_id"]
    assert set(documents(other.val_tokens, eos)) != set(documents(base.val_tokens, eos))
