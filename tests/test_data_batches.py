"""Batches: shifted targets, determinism, resume at the same data position, the ranks' shares
of a global batch, validation windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.data import BatchStream, DataError, val_batches

# Token i holds the value i, so every batch shows exactly where it was cut from.
POSITIONS = np.arange(50_000, dtype=np.uint32)


def test_targets_are_the_inputs_shifted_by_one_from_one_contiguous_window():
    x, y = BatchStream(POSITIONS, batch_size=4, seq_len=16, seed=0).next()
    assert x.shape == y.shape == (4, 16) and x.dtype == y.dtype == torch.int64
    assert torch.equal(y, x + 1)
    assert torch.equal(x - x[:, :1], torch.arange(16).expand(4, 16))
    assert int(y.max()) < len(POSITIONS)


def test_the_same_seed_gives_the_same_batches_and_another_seed_other_ones():
    def first_three(seed):
        stream = BatchStream(POSITIONS, 8, 32, seed)
        return torch.stack([stream.next()[0] for _ in range(3)])

    assert torch.equal(first_three(7), first_three(7))
    assert not torch.equal(first_three(7), first_three(8))


def test_a_resumed_stream_sees_the_batches_an_uninterrupted_one_would():
    straight = BatchStream(POSITIONS, 8, 32, seed=3)
    expected = [straight.next() for _ in range(10)]

    before = BatchStream(POSITIONS, 8, 32, seed=3)
    for _ in range(6):
        before.next()
    state = json.loads(json.dumps(before.state_dict()))  # survives a checkpoint round trip
    after = BatchStream(POSITIONS, 8, 32, seed=999)
    after.load_state_dict(state)
    for want_x, want_y in expected[6:]:
        x, y = after.next()
        assert torch.equal(x, want_x) and torch.equal(y, want_y)


def test_ranks_split_the_global_batch_that_one_device_would_draw():
    whole = BatchStream(POSITIONS, 8, 32, seed=5)
    ranks = [BatchStream(POSITIONS, 4, 32, seed=5, rank=r, world_size=2) for r in range(2)]
    for _ in range(3):
        x, y = whole.next()
        halves = [stream.next() for stream in ranks]
        assert torch.equal(torch.cat([h[0] for h in halves]), x) and torch.equal(torch.cat([h[1] for h in halves]), y)


def test_resuming_on_different_data_is_refused():
    state = BatchStream(POSITIONS, 8, 32, seed=3).state_dict()
    with pytest.raises(DataError, match="data settings"):
        BatchStream(POSITIONS[:-1], 8, 32, seed=3).load_state_dict(state)


def test_validation_windows_do_not_overlap_cover_the_data_and_repeat_exactly():
    batches = val_batches(POSITIONS[:10_001], batch_size=4, seq_len=100, n_batches=10, device="cpu")
    assert len(batches) == 10
    starts = torch.cat([x[:, 0] for x, _ in batches]).tolist()
    assert len(set(starts)) == 40 and all(s % 100 == 0 for s in starts)  # disjoint inputs, stride T
    assert max(starts) > 9_000  # spread over the whole set, not only its beginning
    again = val_batches(POSITIONS[:10_001], 4, 100, 10, "cpu")
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(batches, again))
    assert all(torch.equal(y, x + 1) for x, y in batches)


def test_validation_batches_are_capped_by_the_data_and_refused_below_one_batch():
    assert len(val_batches(POSITIONS[:1_001], 2, 100, n_batches=50)) == 5
    with pytest.raises(DataError, match="fewer than one batch") as err:
        val_batches(POSITIONS[:300], 4, 100, 10)
    assert "data.val_fraction" in err.value.hint


def test_training_data_shorter_than_one_sequence_is_refused():
    with pytest.raises(DataError, match="fewer than one sequence"):
        BatchStream(POSITIONS[:16], 2, 16, seed=0)


@pytest.mark.gpu
def test_cuda_batches_equal_the_cpu_ones():
    cpu, gpu = BatchStream(POSITIONS, 8, 64, 1, "cpu"), BatchStream(POSITIONS, 8, 64, 1, "cuda")
    for _ in range(3):
        (cx, cy), (gx, gy) = cpu.next(), gpu.next()
        assert gx.is_cuda and torch.equal(gx.cpu(), cx) and torch.equal(gy.cpu(), cy)
