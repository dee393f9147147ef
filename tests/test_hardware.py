"""The hardware sampler and which run holds which GPU.

The host and process side reads real psutil. NVML is replaced at the module boundary by a
small pynvml-like fake: NVML itself is not under test, what the sampler makes of its
answers and failures is."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import psutil
import pytest

from moetui.hardware import GpuUsage, HostSampler, Sample, TreeUsage, gpu_holders, local_engines, run_usage

GiB = 2**30


class FakeNvml:
    """What the sampler calls of pynvml, for two GPUs: GPU 1 reports no power (as some
    boards do) and refuses to list its processes (as NVML does without permission)."""

    class NVMLError(Exception):
        pass

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, init_fails: bool = False) -> None:
        self.init_fails = init_fails
        self.inits = 0

    def nvmlInit(self):
        self.inits += 1
        if self.init_fails:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-{handle}aaa".encode()  # bytes, as older bindings return

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=(87, 3)[handle], memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=(40 * GiB, 1 * GiB)[handle], total=80 * GiB, free=0)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        assert sensor == self.NVML_TEMPERATURE_GPU
        return (71, 33)[handle]

    def nvmlDeviceGetPowerUsage(self, handle):
        if handle == 1:
            raise self.NVMLError("Not Supported")
        return 312_500  # mW

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return 700_000

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        if handle == 1:
            raise self.NVMLError("Insufficient Permissions")
        return [SimpleNamespace(pid=4242, usedGpuMemory=39 * GiB)]


def no_pynvml():
    raise ImportError("No module named 'pynvml'")


def test_the_sampler_reads_this_machines_cpu_ram_and_an_engines_whole_process_tree():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sampler = HostSampler(load_nvml=no_pynvml)
        sampler([os.getpid()])
        sample = sampler([os.getpid(), 999_999_999])  # the second engine has gone meanwhile
    finally:
        child.kill()
        child.wait()
    assert sample.gpus == ()
    assert sample.host.cpus == psutil.cpu_count()
    assert sample.host.mem_total == psutil.virtual_memory().total
    assert 0 < sample.host.mem_used < sample.host.mem_total
    assert 0 <= sample.host.cpu_percent <= 100
    tree = sample.trees[os.getpid()]
    assert {os.getpid(), child.pid} <= tree.pids
    assert tree.rss >= psutil.Process().memory_info().rss // 2
    assert tree.cpu_percent >= 0
    assert list(sample.trees) == [os.getpid()]


def test_nvml_answers_become_gpu_samples_and_what_a_gpu_does_not_say_stays_unknown():
    sample = HostSampler(load_nvml=FakeNvml)([])
    busy, idle = sample.gpus
    assert busy == GpuUsage(index=0, uuid="GPU-0aaa", util=87, mem_used=40 * GiB, mem_total=80 * GiB,
                            temperature=71, power=312.5, power_limit=700.0, pids=(4242,))
    assert idle.power is None and idle.pids == ()
    assert idle.util == 3 and idle.temperature == 33


@pytest.mark.parametrize("load", [no_pynvml, lambda: FakeNvml(init_fails=True)],
                         ids=["pynvml missing", "NVML init fails"])
def test_without_nvml_the_sampler_reports_no_gpus_and_still_samples_the_host(load):
    sampler = HostSampler(load_nvml=load)
    assert sampler([]).gpus == ()
    assert sampler([]).host.cpus >= 1


def test_a_failed_nvml_init_is_not_retried_every_sample():
    nvml = FakeNvml(init_fails=True)
    sampler = HostSampler(load_nvml=lambda: nvml)
    sampler([])
    sampler([])
    assert nvml.inits == 1


@dataclass
class Record:
    id: str
    status: str = "running"
    host: str = "here"
    pid: int | None = None
    gpu: str | None = None
    name: str = ""


def gpu(index: int, *pids: int, util: float = 50.0, used: int = 10 * GiB) -> GpuUsage:
    return GpuUsage(index=index, uuid=f"GPU-{index}", util=util, mem_used=used, mem_total=80 * GiB, pids=pids)


def test_a_gpu_is_held_by_the_run_whose_engine_tree_computes_on_it():
    """A torchrun run records its agent's PID; the ranks on the GPUs are its children."""
    sample = Sample(0.0, None, (gpu(0, 101), gpu(1, 102), gpu(2, 300)),
                    {100: TreeUsage(frozenset({100, 101, 102}), 200.0, GiB), 200: TreeUsage(frozenset({200}), 0, 0)})
    runs = [Record("ddp", pid=100), Record("other", pid=200)]
    assert gpu_holders(sample, runs, "here") == {0: ["ddp"], 1: ["ddp"], 2: []}


def test_a_live_run_of_this_host_holds_the_gpus_its_record_names_when_pids_do_not_match():
    """In a container NVML reports host PIDs; an engine loading torch has no CUDA context yet."""
    sample = Sample(0.0, None, (gpu(0, 555), gpu(1), gpu(2)), {})
    runs = [Record("by-index", pid=100, gpu="0,1"), Record("by-uuid", gpu="GPU-2"),
            Record("finished", status="completed", gpu="2"), Record("elsewhere", host="there", gpu="1")]
    assert gpu_holders(sample, runs, "here") == {0: ["by-index"], 1: ["by-index"], 2: ["by-uuid"]}


def test_a_run_found_by_pid_and_by_its_record_is_named_once():
    sample = Sample(0.0, None, (gpu(0, 100),), {100: TreeUsage(frozenset({100}), 0, 0)})
    assert gpu_holders(sample, [Record("r", pid=100, gpu="0")], "here") == {0: ["r"]}


def test_only_this_hosts_live_engines_are_sampled():
    runs = [Record("live", pid=1), Record("stalled", status="stalled", pid=2),
            Record("done", status="completed", pid=3), Record("remote", host="there", pid=4), Record("starting")]
    assert local_engines(runs, "here") == {"live": 1, "stalled": 2}


def test_a_runs_usage_is_its_gpus_mean_utilisation_and_summed_memory_or_its_engines_cpu():
    sample = Sample(7.0, None, (gpu(0, util=80, used=10 * GiB), gpu(1, util=40, used=30 * GiB)),
                    {100: TreeUsage(frozenset({100}), 150.0, 3 * GiB)})
    on_gpus = run_usage(sample, {0: ["r"], 1: ["r"]}, "r", 100)
    assert (on_gpus.t, on_gpus.gpus, on_gpus.gpu_util) == (7.0, (0, 1), 60.0)
    assert (on_gpus.gpu_mem_used, on_gpus.gpu_mem_total) == (40 * GiB, 160 * GiB)
    on_cpu = run_usage(sample, {0: [], 1: []}, "r", 100)
    assert (on_cpu.cpu_percent, on_cpu.rss, on_cpu.gpus, on_cpu.gpu_util) == (150.0, 3 * GiB, (), None)
    assert run_usage(sample, {}, "gone", 999) is None
