"""Next-token cross-entropy from the final hidden states, chunked over tokens.

The plain loss materialises the logits of a whole micro-batch, and an fp32 copy for a
stable softmax, and keeps them for backward: at the baseline shape (24 x 512 tokens,
49,152 vocab) the fp32 copy alone is 2.4 GB, several times the model. Here the output
head and the loss run over C tokens at a time, and each chunk's gradients with respect
to the hidden states and the head are computed at once, so nothing N x V outlives its
chunk and backward only scales what the forward kept (the head's matmuls are not redone).

Shapes: N tokens, D model width, V vocabulary, C tokens of a chunk.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _loss_and_grads(h_ND: torch.Tensor, head_VD: torch.Tensor, targets_N: torch.Tensor, chunk: int,
                    with_grads: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Mean cross-entropy and, `with_grads`, its gradients with respect to `h_ND` and
    `head_VD`, both in fp32. The logits come out of F.linear in the autocast dtype, as in
    the plain path, and are raised to fp32 for the softmax. d loss / d logits is
    (softmax - onehot) / N; the two gradient matmuls take softmax - onehot, in [-1, 1], in
    the logits' dtype and divide by N afterwards in fp32: divided first, most entries would
    flush to zero in fp16, whose gradient scaler only ever sees the loss."""
    n = h_ND.shape[0]
    loss = torch.zeros((), dtype=torch.float32, device=h_ND.device)
    grad_h_ND = torch.empty_like(h_ND, dtype=torch.float32) if with_grads else None
    grad_head_VD = torch.zeros_like(head_VD, dtype=torch.float32) if with_grads else None
    for start in range(0, n, chunk):
        h_CD, targets_C = h_ND[start:start + chunk], targets_N[start:start + chunk]
        logits_CV = F.linear(h_CD, head_VD)
        logits32_CV = logits_CV.float()
        lse_C = logits32_CV.logsumexp(dim=-1)
        loss = loss + (lse_C - logits32_CV.gather(1, targets_C[:, None]).squeeze(1)).sum()
        if grad_h_ND is None or grad_head_VD is None:
            continue
        dlogits_CV = (logits32_CV - lse_C[:, None]).exp_()
        dlogits_CV.scatter_add_(1, targets_C[:, None], torch.full_like(logits32_CV[:, :1], -1.0))
        dlogits_CV = dlogits_CV.to(logits_CV.dtype)
        grad_h_ND[start:start + chunk] = (dlogits_CV @ head_VD.to(dlogits_CV.dtype)).float() / n
        grad_head_VD += dlogits_CV.T @ h_CD.to(dlogits_CV.dtype)
    return loss / n, grad_h_ND, None if grad_head_VD is None else grad_head_VD / n


class _ChunkedCrossEntropy(torch.autograd.Function):
    """The loss in forward, its input gradients (fp32) kept for backward (see the module doc)."""

    @staticmethod
    def forward(ctx, h_ND: torch.Tensor, head_VD: torch.Tensor, targets_N: torch.Tensor,
                chunk: int) -> torch.Tensor:
        loss, grad_h_ND, grad_head_VD = _loss_and_grads(h_ND, head_VD, targets_N, chunk, with_grads=True)
        ctx.save_for_backward(grad_h_ND, grad_head_VD)
        ctx.dtypes = h_ND.dtype, head_VD.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grad_h_ND, grad_head_VD = ctx.saved_tensors
        h_dtype, head_dtype = ctx.dtypes
        return (grad_h_ND * grad_loss).to(h_dtype), (grad_head_VD * grad_loss).to(head_dtype), None, None


def chunked_cross_entropy(h_ND: torch.Tensor, head_VD: torch.Tensor, targets_N: torch.Tensor,
                          chunk: int) -> torch.Tensor:
    """F.cross_entropy(F.linear(h_ND, head_VD).float(), targets_N), `chunk` tokens at a time;
    without autograd (no_grad, or nothing to differentiate) only the loss is computed."""
    if torch.is_grad_enabled() and (h_ND.requires_grad or head_VD.requires_grad):
        return _ChunkedCrossEntropy.apply(h_ND, head_VD, targets_N, chunk)
    return _loss_and_grads(h_ND, head_VD, targets_N, chunk, with_grads=False)[0]
