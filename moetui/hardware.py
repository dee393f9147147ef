"""What the hardware is doing: per-GPU load (NVML), the host's CPU and RAM, and each
engine's process tree (psutil), sampled as plain data, and which run holds which GPU.

The TUI gets a sampler (any `Sampler`) at construction and calls it from a worker
thread; tests hand it a fixed `Sample`. The real one, `HostSampler`, degrades to what this
machine offers: without the `pynvml` module, the NVIDIA driver or the permission to ask,
it reports no GPUs and carries on with CPU and RAM. No torch here: CUDA would take seconds
to load and a GPU context of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Mapping

import psutil

from moetui.status import LIVE


@dataclass(frozen=True)
class HostUsage:
    cpu_percent: float  # of the whole machine, 0-100
    cpus: int
    mem_used: int  # bytes in use by processes (total - available, as htop counts it)
    mem_total: int


@dataclass(frozen=True)
class GpuUsage:
    """One GPU as NVML reports it; None where this GPU or driver does not say."""
    index: int  # NVML's (PCI order): what CUDA_VISIBLE_DEVICES numbers mean unless CUDA orders GPUs otherwise
    uuid: str | None = None
    util: float | None = None  # percent of the last sample period a kernel ran
    mem_used: int | None = None  # bytes
    mem_total: int | None = None
    temperature: float | None = None  # °C
    power: float | None = None  # W
    power_limit: float | None = None  # W
    pids: tuple[int, ...] = ()  # compute processes on it (host PIDs; empty without permission)


@dataclass(frozen=True)
class TreeUsage:
    """An engine and its descendants (torchrun's ranks, data-loader workers) together."""
    pids: frozenset[int]
    cpu_percent: float  # of one core: 250 means two and a half cores busy
    rss: int  # bytes


@dataclass(frozen=True)
class Sample:
    t: float
    host: HostUsage | None
    gpus: tuple[GpuUsage, ...] = ()
    trees: Mapping[int, TreeUsage] = field(default_factory=dict)  # by the root PID asked for


@dataclass(frozen=True)
class RunUsage:
    """One run at one sample: its engine's CPU and memory, and the GPUs it holds."""
    t: float
    cpu_percent: float | None
    rss: int | None
    gpus: tuple[int, ...]
    gpu_util: float | None  # mean over its GPUs
    gpu_mem_used: int | None  # summed over its GPUs
    gpu_mem_total: int | None


Sampler = Callable[[Collection[int]], Sample]  # engine root PIDs -> a sample


def _import_pynvml() -> Any:
    import pynvml  # nvidia-ml-py: a ctypes binding, loads libnvidia-ml only at nvmlInit

    return pynvml


class HostSampler:
    """The real sampler. Stateful: psutil's CPU percentages are measured between two calls
    on the same objects, so the host's counter and every engine process are kept from one
    sample to the next (a process's first reading is 0)."""

    def __init__(self, load_nvml: Callable[[], Any] = _import_pynvml) -> None:
        self._load_nvml = load_nvml
        self._nvml: Any = None
        self._nvml_tried = False
        self._processes: dict[int, psutil.Process] = {}
        psutil.cpu_percent(None)  # starts the host's counter, so the first sample means something

    def __call__(self, roots: Collection[int]) -> Sample:
        return Sample(time.time(), self._host(), self._gpus(), self._trees(roots))

    @staticmethod
    def _host() -> HostUsage:
        memory = psutil.virtual_memory()
        return HostUsage(psutil.cpu_percent(None), psutil.cpu_count() or 1, memory.total - memory.available,
                         memory.total)

    def _open_nvml(self) -> Any:
        """pynvml after a successful nvmlInit, else None. Tried once: a machine does not grow a
        driver while the TUI runs, and a failing init can take a while."""
        if not self._nvml_tried:
            self._nvml_tried = True
            try:
                nvml = self._load_nvml()
            except ImportError:
                return None
            try:
                nvml.nvmlInit()
            except nvml.NVMLError:  # no driver, no library, no permission
                return None
            self._nvml = nvml
        return self._nvml

    def _gpus(self) -> tuple[GpuUsage, ...]:
        nvml = self._open_nvml()
        if nvml is None:
            return ()
        try:
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError:
            return ()
        gpus = []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
            except nvml.NVMLError:  # fallen off the bus, or hidden from us: the others still count
                continue
            gpus.append(_gpu_usage(nvml, index, handle))
        return tuple(gpus)

    def _trees(self, roots: Collection[int]) -> dict[int, TreeUsage]:
        trees, kept = {}, {}
        for root in roots:
            try:
                top = psutil.Process(root)
                family = [top, *top.children(recursive=True)]
            except psutil.Error:  # ended since the store was listed
                continue
            pids, cpu, rss = set(), 0.0, 0
            for fresh in family:
                process = self._processes.get(fresh.pid)
                if process is None or not process.is_running():  # new, or its PID was reused
                    process = fresh
                try:
                    with process.oneshot():
                        cpu += process.cpu_percent(None)
                        rss += process.memory_info().rss
                except psutil.Error:
                    continue
                pids.add(process.pid)
                kept[process.pid] = process
            trees[root] = TreeUsage(frozenset(pids), cpu, rss)
        self._processes = kept
        return trees


def _gpu_usage(nvml: Any, index: int, handle: Any) -> GpuUsage:
    def ask(query: Callable[[], Any]) -> Any:
        """One NVML answer, or None where this GPU does not support it (power on some boards,
        utilisation on MIG) or we may not ask (process lists in a container)."""
        try:
            return query()
        except nvml.NVMLError:
            return None

    memory = ask(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    power = ask(lambda: nvml.nvmlDeviceGetPowerUsage(handle))  # mW
    limit = ask(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))  # mW
    processes = ask(lambda: nvml.nvmlDeviceGetComputeRunningProcesses(handle)) or []
    uuid = ask(lambda: nvml.nvmlDeviceGetUUID(handle))
    return GpuUsage(
        index=index,
        uuid=uuid.decode() if isinstance(uuid, bytes) else uuid,  # bytes from older bindings
        util=ask(lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
        mem_used=memory.used if memory else None,
        mem_total=memory.total if memory else None,
        temperature=ask(lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)),
        power=power / 1000 if power is not None else None,
        power_limit=limit / 1000 if limit is not None else None,
        pids=tuple(p.pid for p in processes))


# ---- which run holds what: pure functions of a sample and the store's records --------------
def local_engines(records: Iterable[Any], host: str) -> dict[str, int]:
    """Run id -> engine PID, for the runs whose engine may be alive on this host."""
    return {r.id: r.pid for r in records if r.status in LIVE and r.host == host and r.pid}


def gpu_holders(sample: Sample, records: Iterable[Any], host: str) -> dict[int, list[str]]:
    """GPU index -> the runs on it. A run holds a GPU when a process of its engine's tree
    computes there, or when its record names that GPU (`gpu`, the CUDA_VISIBLE_DEVICES it
    was started with): inside a container NVML reports host PIDs that match nothing here,
    and an engine still loading torch has no CUDA context yet."""
    live = [r for r in records if r.status in LIVE and r.host == host]
    owner = {pid: r.id for r in live if r.pid in sample.trees for pid in sample.trees[r.pid].pids}
    holders = {}
    for gpu in sample.gpus:
        names = {str(gpu.index), gpu.uuid}
        found = [owner[pid] for pid in gpu.pids if pid in owner]
        found += [r.id for r in live if names & set((r.gpu or "").split(","))]
        holders[gpu.index] = list(dict.fromkeys(found))
    return holders


def run_usage(sample: Sample, holders: Mapping[int, list[str]], run_id: str, pid: int | None) -> RunUsage | None:
    """What one run used at this sample; None when nothing in it is the run's."""
    tree = sample.trees.get(pid) if pid else None
    gpus = [g for g in sample.gpus if run_id in holders.get(g.index, ())]
    if tree is None and not gpus:
        return None
    utils = [g.util for g in gpus if g.util is not None]
    used = [g.mem_used for g in gpus if g.mem_used is not None]
    totals = [g.mem_total for g in gpus if g.mem_total is not None]
    return RunUsage(sample.t, tree.cpu_percent if tree else None, tree.rss if tree else None,
                    tuple(g.index for g in gpus), sum(utils) / len(utils) if utils else None,
                    sum(used) if used else None, sum(totals) if totals else None)
