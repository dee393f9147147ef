"""What the benchmark needs to know about the device: its peak, how to wait for it, and
how much memory a measured path took.

Peaks are the datasheets' dense (no sparsity) bf16/fp16 tensor-core rates, the
denominator of MFU: the 1,979 TFLOP/s printed for an H100/H200 SXM assumes 2:4 sparsity,
so dense is 989. More specific names come first (an "H100 PCIe" must not match "H100").
The CPU has no such figure that means anything on a shared machine, so MFU is n/a there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time
from dataclasses import dataclass

import psutil
import torch

# Dense bf16/fp16 tensor-core peaks, TFLOP/s, by a substring of torch.cuda.get_device_name.
PEAK_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H200 NVL": 835.0, "H200": 989.0, "H100": 989.0,
               "A100": 312.0, "L40S": 362.0, "4090": 165.0, "A10G": 70.0, "L4": 121.0, "3090": 71.0,
               "V100": 125.0, "T4": 65.0}
_RSS_SAMPLE_S = 0.002


@dataclass(frozen=True)
class Peak:
    name: str  # the table's key that matched
    tflops: float

    def describe(self) -> str:
        return f"{self.name} {self.tflops:g} TFLOP/s dense bf16 (datasheet)"


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def peak_of(device: torch.device) -> Peak | None:
    """The device's dense bf16 peak, or None (CPU, MPS, a GPU not in the table)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((Peak(key, tflops) for key, tflops in PEAK_TFLOPS.items() if key in name), None)


def synchronize(device: torch.device) -> None:
    """Wait until the device has done what was queued: a host clock read after this times the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def memory_method(device: torch.device) -> str:
    if device.type == "cuda":
        return "CUDA max_memory_allocated over the path (tensors only, not the allocator's cache)"
    return (f"peak resident memory (RSS) above the path's start, psutil sampled every "
            f"{_RSS_SAMPLE_S * 1000:g} ms after malloc_trim (includes the allocator's and Python's overhead)")


class PeakMemory:
    """The most memory one path used, in bytes (`peak` once the block has ended). On CUDA
    the allocator counts exactly; on CPU a thread samples the process's RSS, as there is no
    resettable high-water mark (getrusage's ru_maxrss only ever grows over the process)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak = device, 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def __enter__(self) -> "PeakMemory":
        gc.collect()  # the previous path's model and optimizer states, so they are not counted here
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            _release_freed_memory()
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def _sample(self) -> None:
        process = psutil.Process()
        start = process.memory_info().rss
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss - start)
            time.sleep(_RSS_SAMPLE_S)

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)
        elif self._sampler is not None:
            self._stop.set()
            self._sampler.join()


def _release_freed_memory() -> None:
    """Hand the memory of earlier paths back to the OS (glibc's malloc_trim), so that a path
    reusing it still counts it: glibc keeps freed blocks in the process, where RSS includes
    them and a later path's growth above its start would read near zero. A no-op elsewhere."""
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:
        trim(0)
