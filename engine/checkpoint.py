"""Save and restore everything a resumed run needs to continue bit-for-bit on CPU.

A checkpoint holds the model, the optimizers' states, the gradient scaler, the progress
counters (optimizer step -- which is all the schedule needs --, tokens, elapsed time,
latest metrics), the data position and the RNG states (dropout and router noise draw
from torch's generators). It is serialised into memory and renamed over the old file,
so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.config import ConfigError
from engine.optim import Optimizers
from engine.rundir import CONFIG_FILE, atomic_write_bytes

FORMAT = 1


class CheckpointError(Exception):
    """checkpoint.pt cannot be resumed from (empty, cut short, not a checkpoint): `message`
    says what, `hint` what to do instead."""

    def __init__(self, message: str, hint: str) -> None:
        self.message, self.hint = message, hint
        super().__init__(f"{message} — {hint}")


@dataclass
class Progress:
    """Counters of a run that survive a resume."""
    step: int = 0  # optimizer steps done
    tokens: int = 0  # training tokens seen
    elapsed: float = 0.0  # wall seconds of training over all segments of the run
    metrics: dict[str, float] = field(default_factory=dict)  # latest train/val metrics, for `end`


def rng_states(device: torch.device) -> dict[str, Any]:
    """The CPU generator's state and, on CUDA, the state of the run's own device only: a
    rank draws from one device, and a list over every visible GPU would be restored by
    index on a machine that may have fewer GPUs, or others in their place."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def set_rng_states(states: dict[str, Any], device: torch.device) -> None:
    """Restore `rng_states` onto this run's device, whichever GPU it is now. A checkpoint
    written before holds one state per visible GPU: device 0's is the one a single-device
    run or rank 0 drew from."""
    torch.set_rng_state(states["torch"])
    cuda_state = states.get("cuda")
    if device.type != "cuda" or cuda_state is None:
        return
    torch.cuda.set_rng_state(cuda_state[0] if isinstance(cuda_state, list) else cuda_state, device)


def save_checkpoint(path: Path, model: nn.Module, optimizers: Optimizers, scaler: torch.amp.GradScaler,
                    data_state: dict[str, Any], progress: Progress, config: dict[str, Any]) -> None:
    payload = {
        "format": FORMAT,
        "config": config,
        "progress": asdict(progress),
        "model": model.state_dict(),
        "optimizers": optimizers.state_dict(),
        "scaler": scaler.state_dict(),
        "data": data_state,
        "rng": rng_states(next(model.parameters()).device),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read to CPU (RNG states must stay CPU tensors); load_state_dict moves the rest."""
    if not path.exists():
        raise ConfigError("--resume", str(path), "no checkpoint to resume from; start the run without --resume")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except EOFError:  # a zero-byte file (the disk filled up, or a copy was cut short)
        raise _damaged(path, "empty file" if path.stat().st_size == 0 else "cut short") from None
    except RuntimeError as e:  # a zip archive cut short or overwritten: the reader's first sentence says how
        raise _damaged(path, str(e).splitlines()[0].split(". ")[0]) from None
    except pickle.UnpicklingError:
        # Not ours (torch's own text would suggest weights_only=False, i.e. running code from the file).
        raise _damaged(path, "not a PyTorch checkpoint") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise _damaged(path, "not a moetui checkpoint")
    return payload


def _damaged(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path.name} is damaged ({why}): cannot resume from it",
                           f"start the run again from its config: moetui run {path.parent / CONFIG_FILE}")


def restore(payload: dict[str, Any], model: nn.Module, optimizers: Optimizers,
            scaler: torch.amp.GradScaler) -> Progress:
    """Load the states into freshly built objects; a different model shape is a config error.
    The data position (payload["data"]) and RNG states are the caller's to apply, in order."""
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[-1].strip()
        raise ConfigError("--resume", "checkpoint.pt",
                          f"the checkpoint was saved by a different model config ({first})") from None
    optimizers.load_state_dict(payload["optimizers"])
    scaler.load_state_dict(payload["scaler"])
    return Progress(**payload["progress"])
