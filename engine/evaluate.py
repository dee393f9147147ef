"""Validation metrics on held-out batches: loss, next-token top-1 accuracy, perplexity.

Targets are the inputs shifted by one (y[:, t] is the token after x[:, t]), as the
data module cuts them; the seed project once scored predictions against the
unshifted inputs, which measures copying, not prediction.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from engine.precision import Precision


def next_token_accuracy(logits_BTV: torch.Tensor, targets_BT: torch.Tensor) -> torch.Tensor:
    """Share of positions whose arg-max prediction is the next token."""
    return (logits_BTV.argmax(dim=-1) == targets_BT).float().mean()


@torch.no_grad()
def evaluate(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
             precision: Precision) -> dict[str, float]:
    """Mean over `batches` (all the same size) in eval mode: no dropout, no router noise.
    Called with the bare model, never a DDP wrapper: rank 0 evaluates alone, and the
    wrapper's forward may wait for the other ranks."""
    was_training = model.training
    model.eval()
    device = batches[0][0].device
    loss_sum = torch.zeros((), device=device)  # summed on the device: one host sync per evaluation
    correct_sum = torch.zeros((), device=device)
    for x_BT, y_BT in batches:
        with precision.autocast():
            logits_BTV = model(x_BT).logits_BTV
        loss_sum = loss_sum + F.cross_entropy(logits_BTV.float().flatten(0, 1), y_BT.flatten())
        correct_sum = correct_sum + next_token_accuracy(logits_BTV, y_BT)
    model.train(was_training)
    val_loss = loss_sum.item() / len(batches)
    return {"val_loss": val_loss, "val_accuracy": correct_sum.item() / len(batches),
            "val_perplexity": math.exp(min(val_loss, 700.0))}  # exp overflows a float past ~709
