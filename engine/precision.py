"""Which arithmetic a run uses: autocast dtype and whether a gradient scaler is needed.

    CUDA + bf16 support   bf16 autocast, no scaler (bf16 has fp32's exponent range)
    CUDA, no bf16 (T4)    fp16 autocast + GradScaler (fp16 gradients underflow without it)
    CPU / MPS             fp32; bf16 autocast only when amp_dtype = "bf16" is asked for
    use_amp = false or amp_dtype = "off": fp32 everywhere, Muon's Newton-Schulz included
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from engine.config import ConfigError, TrainConfig

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    name: str  # "fp32", "bf16" or "fp16": what the start event reports as dtype
    device_type: str
    use_scaler: bool

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return _DTYPES.get(self.name)

    @property
    def muon_dtype(self) -> torch.dtype:
        """Arithmetic of Muon's Newton-Schulz iteration: the autocast dtype on CUDA (tensor
        cores; fp16 on T4-class GPUs, which have no bf16 tensor cores), else fp32 -- so a
        use_amp=false run is fp32 in its optimizer too, and CPU runs (slow bf16 matmuls)
        stay exactly reproducible."""
        if self.device_type == "cuda" and self.autocast_dtype is not None:
            return self.autocast_dtype
        return torch.float32

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.autocast_dtype)

    def make_scaler(self) -> torch.amp.GradScaler:
        """Disabled scalers are pass-through, so the loop calls the scaler unconditionally."""
        return torch.amp.GradScaler(self.device_type if self.use_scaler else "cpu", enabled=self.use_scaler)


def choose_precision(train: TrainConfig, device: torch.device, bf16_supported: bool | None = None) -> Precision:
    """The rules of the table above; `bf16_supported` defaults to asking CUDA."""
    kind = device.type
    wanted = train.amp_dtype if train.use_amp else "off"
    if wanted == "off":
        return Precision("fp32", kind, False)
    if kind != "cuda":
        return Precision("bf16" if wanted == "bf16" else "fp32", kind, False)
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    if wanted == "bf16" and not bf16_supported:
        raise ConfigError("train.amp_dtype", "bf16", "this GPU has no bf16 support; use auto or fp16")
    if wanted == "bf16" or (wanted == "auto" and bf16_supported):
        return Precision("bf16", kind, False)
    return Precision("fp16", kind, True)


def enable_tf32() -> None:
    """TF32 tensor-core matmuls for the fp32 parts on CUDA (~8x faster, 10-bit mantissa)."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
