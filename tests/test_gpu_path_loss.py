"""Cross-entropy chunked over tokens (train.ce_chunk_tokens) equals the plain loss, in
value and in the gradients that reach the hidden states and the output head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.config import Config
from engine.loss import chunked_cross_entropy
from engine.model import MoETransformer


def head_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    h_ND = torch.randn(300, 32, requires_grad=True)
    head_VD = torch.randn(1000, 32, requires_grad=True)
    return h_ND, head_VD, torch.randint(0, 1000, (300,))


def loss_and_grads(loss_fn) -> list[torch.Tensor]:
    h_ND, head_VD, targets_N = head_inputs()
    loss = loss_fn(h_ND, head_VD, targets_N)
    (loss / 4).backward()  # as under gradient accumulation: backward scales what the forward kept
    return [loss.detach(), h_ND.grad, head_VD.grad]


def plain(h_ND, head_VD, targets_N):
    return F.cross_entropy(F.linear(h_ND, head_VD).float(), targets_N)


@pytest.mark.parametrize("chunk", [1, 64, 128, 299, 300, 1000])
def test_chunked_cross_entropy_equals_f_cross_entropy_in_value_and_gradient(chunk):
    expected = loss_and_grads(plain)
    got = loss_and_grads(lambda h, w, t: chunked_cross_entropy(h, w, t, chunk))
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_under_autocast_the_chunks_compute_in_its_dtype_as_the_plain_head_does(dtype):
    with torch.autocast("cpu", dtype=dtype):
        expected = loss_and_grads(plain)
        got = loss_and_grads(lambda h, w, t: chunked_cross_entropy(h, w, t, 128))
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=2e-3, rtol=2e-2)


def test_without_autograd_only_the_loss_is_computed():
    h_ND, head_VD, targets_N = head_inputs()
    with torch.no_grad():
        loss = chunked_cross_entropy(h_ND, head_VD, targets_N, 64)
    assert loss.grad_fn is None
    torch.testing.assert_close(loss, plain(h_ND, head_VD, targets_N).detach())


@pytest.mark.parametrize("tied", [True, False])
def test_a_model_whose_micro_batch_exceeds_the_chunk_gets_the_plain_loss_and_gradients(tied):
    """32 tokens: a chunk of 8 splits them in four; the logits are then never returned."""
    outputs = []
    for chunk in (0, 8):
        cfg = Config().apply_overrides(["model.d_model=32", "model.n_heads=2", "model.n_layers=2", "model.d_ff=32",
                                        "model.dropout=0", f"model.tie_embeddings={tied}",
                                        f"train.ce_chunk_tokens={chunk}"]).validate()
        torch.manual_seed(0)
        model = MoETransformer(cfg, 50)
        x_BT = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(1))
        out = model(x_BT, torch.roll(x_BT, -1, 1))
        out.loss.backward()
        outputs.append((out, [p.grad for p in model.parameters()]))
    (plain_out, plain_grads), (chunked_out, chunked_grads) = outputs
    assert plain_out.logits_BTV is not None and chunked_out.logits_BTV is None
    torch.testing.assert_close(chunked_out.lm_loss, plain_out.lm_loss)
    for got, expected in zip(chunked_grads, plain_grads, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_in_fp16_the_head_rows_of_tokens_never_targeted_keep_their_small_gradients():
    """Their gradient is a sum of tiny probabilities / N: divided by N before the fp16 matmul
    it flushes towards zero (2.8 % off per row here at N = 2,048; at the baseline's N and V
    an average probability / N, 1.7e-9, is below fp16's smallest number), so the chunks
    divide after the matmul, in fp32."""
    torch.manual_seed(0)
    n, vocab = 4096, 1000
    h_ND, head_VD = torch.randn(n, 32), (torch.randn(vocab, 32) * 0.5).requires_grad_()
    targets_N = torch.randint(0, vocab // 2, (n,))
    F.cross_entropy(F.linear(h_ND, head_VD), targets_N).backward()
    exact_VD, head_VD.grad = head_VD.grad, None
    with torch.autocast("cpu", dtype=torch.float16):
        chunked_cross_entropy(h_ND, head_VD, targets_N, 1024).backward()
    never = slice(vocab // 2, None)
    row_error_V = (head_VD.grad - exact_VD)[never].norm(dim=1) / exact_VD[never].norm(dim=1)
    assert row_error_V.max() < 0.01
