"""train.prefetch: the next batch is cut on a worker thread while the step computes, and
the stream hands out exactly the batches it would without prefetching."""

from __future__ import annotations

import threading

import numpy as np
import torch

from engine.data import BatchStream

TOKENS = np.arange(50_000, dtype=np.uint16)


class WatchedTokens:
    """The token array, noting which thread cuts each batch from it."""

    def __init__(self, tokens: np.ndarray) -> None:
        self.tokens, self.threads = tokens, []

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index):
        self.threads.append(threading.current_thread().name)
        return self.tokens[index]


def batches(stream: BatchStream, n: int) -> list[torch.Tensor]:
    return [stream.next()[0] for _ in range(n)]


def test_the_next_batch_is_cut_on_a_worker_thread_while_this_one_is_used():
    watched = WatchedTokens(TOKENS)
    stream = BatchStream(watched, 4, 32, seed=1, prefetch=True)
    batches(stream, 3)
    main = threading.current_thread().name
    first, *prefetched = watched.threads[:3]  # (the fourth batch may still be being cut)
    assert first == main  # nothing was prefetched before the first batch
    assert len(prefetched) == 2 and main not in prefetched


def test_a_prefetching_stream_hands_out_the_batches_of_a_plain_one_across_a_resume():
    plain, prefetching = (BatchStream(TOKENS, 4, 32, seed=1, prefetch=p) for p in (False, True))
    assert all(torch.equal(a, b) for a, b in zip(batches(plain, 5), batches(prefetching, 5)))
    # A resume moves the position (and may change the seed): the batch prefetched for the old one is dropped.
    for stream in (plain, prefetching):
        stream.load_state_dict({"seed": 7, "index": 2, "tokens": len(TOKENS)})
    assert all(torch.equal(a, b) for a, b in zip(batches(plain, 3), batches(prefetching, 3)))
    assert prefetching.state_dict() == plain.state_dict() == {"seed": 7, "index": 5, "tokens": len(TOKENS)}


def test_each_rank_prefetches_its_own_rows():
    whole = BatchStream(TOKENS, 8, 32, seed=5, prefetch=True)
    ranks = [BatchStream(TOKENS, 4, 32, seed=5, rank=r, world_size=2, prefetch=True) for r in range(2)]
    for _ in range(3):
        assert torch.equal(torch.cat([rank.next()[0] for rank in ranks]), whole.next()[0])
