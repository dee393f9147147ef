"""Validation metrics score next-token predictions against the shifted targets."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.config import Config
from engine.data import val_batches
from engine.evaluate import evaluate
from engine.model import MoETransformer
from engine.precision import choose_precision

V = 11


class NextTokenOracle(torch.nn.Module):
    """Knows the data's rule (each token is the previous one + 1 mod V) and predicts it
    with probability ~1: perfect on shifted targets, never right on unshifted ones."""

    def forward(self, x_BT):
        return SimpleNamespace(logits_BTV=F.one_hot((x_BT + 1) % V, V).float() * 50.0)


def test_a_perfect_next_token_predictor_scores_accuracy_one_and_perplexity_one():
    tokens = np.arange(4000) % V
    batches = val_batches(tokens, batch_size=4, seq_len=16, n_batches=3, device="cpu")
    precision = choose_precision(Config().train, torch.device("cpu"))
    oracle = NextTokenOracle()
    metrics = evaluate(oracle, batches, precision)
    assert metrics["val_accuracy"] == 1.0
    assert metrics["val_loss"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["val_perplexity"] == pytest.approx(math.exp(metrics["val_loss"]))
    # Scored against the inputs themselves (the seed's bug), the same predictions are all wrong.
    unshifted = [(x, x) for x, _ in batches]
    assert evaluate(oracle, unshifted, precision)["val_accuracy"] == 0.0


def test_evaluation_runs_without_dropout_or_router_noise_and_restores_training_mode():
    """Two evaluations of a model with dropout and router noise agree, draw nothing from
    the RNG (so evaluating never changes the training that follows) and leave it training."""
    cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=32",
                                    "model.dropout=0.3", "moe.router_noise_std=1.0"]).validate()
    model = MoETransformer(cfg, V).train()
    batches = val_batches(np.arange(1000) % V, 2, 8, 2, "cpu")
    precision = choose_precision(cfg.train, torch.device("cpu"))
    state = torch.get_rng_state()
    first = evaluate(model, batches, precision)
    assert evaluate(model, batches, precision) == first
    assert model.training and torch.equal(state, torch.get_rng_state())
