"""CUDA RNG states in a checkpoint: the run's own device, restored onto the device of the
resumed run, however many GPUs either machine shows. torch.cuda's functions are replaced
by a fake set of GPUs, so this runs on CPU."""

from __future__ import annotations

import pytest
import torch

from engine.checkpoint import rng_states, set_rng_states


class FakeGPUs:
    """`count` CUDA devices, each with an RNG state of its own, behind torch.cuda's RNG
    functions; a device index past the count fails as CUDA does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, count: int, machine: int) -> None:
        self.states = [torch.tensor([machine, i], dtype=torch.uint8) for i in range(count)]
        for name in ("is_available", "device_count", "get_rng_state", "set_rng_state", "get_rng_state_all",
                     "set_rng_state_all"):
            monkeypatch.setattr(torch.cuda, name, getattr(self, name))

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return len(self.states)

    def _index(self, device: int | str | torch.device) -> int:
        index = device if isinstance(device, int) else torch.device(device).index or 0
        if index >= len(self.states):
            raise RuntimeError("CUDA error: invalid device ordinal")
        return index

    def get_rng_state(self, device: int | str | torch.device = "cuda") -> torch.Tensor:
        return self.states[self._index(device)].clone()

    def set_rng_state(self, state: torch.Tensor, device: int | str | torch.device = "cuda") -> None:
        self.states[self._index(device)] = state.clone()

    def get_rng_state_all(self) -> list[torch.Tensor]:
        return [self.get_rng_state(i) for i in range(self.device_count())]

    def set_rng_state_all(self, states: list[torch.Tensor]) -> None:
        for i, state in enumerate(states):
            self.set_rng_state(state, i)


def test_a_checkpoint_from_eight_gpus_resumes_on_three_with_rank_0s_stream(monkeypatch):
    eight = FakeGPUs(monkeypatch, 8, machine=1)
    saved = rng_states(torch.device("cuda", 0))  # rank 0 of a run on all 8 GPUs
    expected = eight.states[0].clone()

    three = FakeGPUs(monkeypatch, 3, machine=2)
    set_rng_states(saved, torch.device("cuda", 0))
    assert torch.equal(three.states[0], expected)


def test_a_run_restores_its_own_devices_state_onto_the_device_it_resumes_on_and_no_other(monkeypatch):
    """Saved by a run on cuda:2 of 3 GPUs, resumed on cuda:0 of 8: cuda:0 draws on from where
    cuda:2 stopped; no other device's state is touched, none is mixed in."""
    FakeGPUs(monkeypatch, 3, machine=1)
    saved = rng_states(torch.device("cuda", 2))
    eight = FakeGPUs(monkeypatch, 8, machine=2)
    untouched = [s.clone() for s in eight.states]

    set_rng_states(saved, torch.device("cuda", 0))
    assert eight.states[0].tolist() == [1, 2]
    assert all(torch.equal(a, b) for a, b in zip(eight.states[1:], untouched[1:]))


def test_a_checkpoint_written_with_one_state_per_visible_gpu_still_resumes(monkeypatch):
    old_format = {"torch": torch.get_rng_state(), "cuda": FakeGPUs(monkeypatch, 8, machine=1).get_rng_state_all()}
    two = FakeGPUs(monkeypatch, 2, machine=2)
    set_rng_states(old_format, torch.device("cuda"))
    assert two.states[0].tolist() == [1, 0] and two.states[1].tolist() == [2, 1]


def test_cpu_runs_keep_no_cuda_state_and_ignore_one(monkeypatch):
    gpus = FakeGPUs(monkeypatch, 2, machine=1)
    assert set(rng_states(torch.device("cpu"))) == {"torch"}
    before = [s.clone() for s in gpus.states]
    set_rng_states({"torch": torch.get_rng_state(), "cuda": torch.tensor([9, 9], dtype=torch.uint8)},
                   torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(gpus.states, before))
