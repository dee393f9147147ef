"""Training and validation batches cut from a token memmap.

Batch i of a run is drawn by a generator seeded with (seed, i), so the data position
is a single integer: a resumed run that restores it sees exactly the batches an
uninterrupted run would, with no sampler state to pickle. Shapes: B = batch size,
T = sequence length; windows are T+1 tokens so that y is x shifted by one.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from engine.data_error import DataError


class BatchStream:
    """Random windows of seq_len+1 tokens from the training memmap, deterministic from `seed`.

    Under data parallelism each of `world_size` ranks takes its own `batch_size` rows of
    one global draw of batch_size x world_size windows: the global batch is the same
    however it is split, so two GPUs with batch B train on what one with 2B would.

    With `prefetch`, a worker thread cuts batch i+1 from the memmap (random reads, page
    faults on a large file) while step i computes; batch i is a function of (seed, i)
    alone, so the prefetched batch is the one that would have been cut, and a batch
    prefetched for another position (after `load_state_dict`) is not used."""

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, seed: int,
                 device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1,
                 prefetch: bool = False) -> None:
        if len(tokens) < seq_len + 1:
            raise DataError(f"training data has {len(tokens):,} tokens, fewer than one sequence of {seq_len + 1}",
                            "use more text or lower model.max_seq_len")
        self.tokens, self.batch_size, self.seq_len, self.seed = tokens, batch_size, seq_len, seed
        self.device = torch.device(device)
        self.rank, self.world_size = rank, world_size
        self.index = 0  # batches handed out so far: the data position a checkpoint stores
        self._offsets_T1 = np.arange(seq_len + 1)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="batches") if prefetch else None
        self._next: tuple[tuple[int, int], Future[np.ndarray]] | None = None  # ((seed, index), its windows)

    def _windows(self, seed: int, index: int) -> np.ndarray:
        """Batch `index`'s windows, (B, T+1) int64 on the host."""
        rng = np.random.default_rng((seed, index))
        starts_G = rng.integers(0, len(self.tokens) - self.seq_len, size=self.batch_size * self.world_size)
        starts_B = starts_G[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
        return self.tokens[starts_B[:, None] + self._offsets_T1].astype(np.int64)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """x, y: int64 (B, T) on the stream's device, y[:, t] = the token after x[:, t]."""
        key = (self.seed, self.index)
        prefetched = self._next is not None and self._next[0] == key
        windows_BT1 = self._next[1].result() if prefetched else self._windows(*key)
        self.index += 1
        if self._worker is not None:
            self._next = ((self.seed, self.index), self._worker.submit(self._windows, self.seed, self.index))
        return _to_device(windows_BT1, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "index": self.index, "tokens": len(self.tokens)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("tokens", len(self.tokens)) != len(self.tokens):
            raise DataError(f"the checkpoint's data had {state['tokens']:,} training tokens, this data has "
                            f"{len(self.tokens):,}", "resume with the data settings the run started with")
        self.seed, self.index = int(state["seed"]), int(state["index"])


def val_batches(tokens: np.ndarray, batch_size: int, seq_len: int, n_batches: int,
                device: torch.device | str = "cpu") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Up to `n_batches` batches of non-overlapping windows (window k predicts tokens
    k*T+1 .. k*T+T), spread evenly over the validation data; the same on every call."""
    n_windows = (len(tokens) - 1) // seq_len
    if n_windows < batch_size:
        raise DataError(f"validation data has {len(tokens):,} tokens, fewer than one batch of "
                        f"{batch_size} x {seq_len} + 1",
                        "use more text, raise data.val_fraction, or lower train.batch_size / model.max_seq_len")
    n_batches = min(n_batches, n_windows // batch_size)
    # Evenly spaced windows, so a few eval batches still cover the whole validation set.
    picks = np.linspace(0, n_windows - 1, n_batches * batch_size).round().astype(np.int64)
    starts_NB = (picks * seq_len).reshape(n_batches, batch_size)
    offsets = np.arange(seq_len + 1)
    device = torch.device(device)
    return [_to_device(tokens[starts_B[:, None] + offsets], device) for starts_B in starts_NB]


def _to_device(windows_BT1: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    batch = torch.from_numpy(windows_BT1.astype(np.int64, copy=False))
    if device.type == "cuda":  # pinned host memory lets the copy overlap with the previous step's compute
        batch = batch.pin_memory().to(device, non_blocking=True)
    else:
        batch = batch.to(device)
    return batch[:, :-1], batch[:, 1:]
