"""The hardware panel and a run's hardware over time, as a person on a GPU server sees them.

The app is handed a sampler that reports what the story needs (a run's engine on GPU 0,
someone else's process on GPU 1); the run is a record naming this test process as its
engine, which is as alive as an engine needs to be for the store."""

from __future__ import annotations

import itertools
import os

from moetui.hardware import GpuUsage, HostUsage, Sample, TreeUsage
from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.widgets.hardware_panel import HardwarePanel
from moetui.tui.widgets.run_hardware import RunHardware
from engine.identity import identify
from tests.tui_fixtures import finished_run, quick_config
from tests.tui_pilot import scenario, until

GiB = 2**30
HOST = HostUsage(cpu_percent=40.0, cpus=16, mem_used=20 * GiB, mem_total=64 * GiB)


def live_run(store: RunStore, name: str) -> str:
    record = store.create(quick_config(), name=name, preset="quick")
    store.update(record.id, status="running", **identify(os.getpid()).record())
    return record.id


def engines_on_gpu0(utils):
    """A sampler: every engine asked about computes on GPU 0 at the next of `utils` (taken
    once there is an engine); GPU 1 runs a process that is no run's; GPU 2 is free."""
    utils = iter(utils)

    def sample(roots) -> Sample:
        util = next(utils) if roots else 0.0
        return Sample(0.0, HOST, (
            GpuUsage(0, "GPU-0", util, int(util / 100 * 40 * GiB), 80 * GiB, 65.0, 300.0, 700.0, tuple(roots)),
            GpuUsage(1, "GPU-1", 99.0, 70 * GiB, 80 * GiB, 80.0, 650.0, 700.0, (4242,)),
            GpuUsage(2, "GPU-2", 0.0, 0, 80 * GiB, 30.0, 60.0, 700.0)),
            {pid: TreeUsage(frozenset({pid}), 120.0, GiB) for pid in roots})

    return sample


async def run_view_strip(pilot, run_id: str) -> RunHardware:
    pilot.app.open_run(run_id)
    await until(pilot, lambda: pilot.app.screen.query(RunHardware), what="the run view")
    return pilot.app.screen.query_one(RunHardware)


def panel_lines(app) -> list[str]:
    return str(app.screen.query_one(HardwarePanel).render()).splitlines()


def panel_shown(app, lines: int) -> bool:
    """The screen's panel is laid out (it draws for its width) with this many lines."""
    panels = app.screen.query(HardwarePanel)
    return bool(panels and panels.first().size.width and len(panel_lines(app)) == lines)


@scenario
async def test_the_runs_and_queue_screens_show_each_gpu_and_the_run_that_holds_it(runs_dir):
    store = RunStore(runs_dir)
    live_run(store, "moe-big")
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1, sampler=engines_on_gpu0(itertools.repeat(87.0)),
                     hardware_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.state.gpu_holders.get(0), what="the run found on GPU 0")
        await until(pilot, lambda: panel_shown(app, 4), what="the panel")
        cpu, gpu0, gpu1, gpu2 = panel_lines(app)
        assert cpu.startswith("CPU") and "40%" in cpu and "20.0/64.0 GiB" in cpu and "16 cores" in cpu
        assert gpu0.startswith("GPU0") and "87%" in gpu0 and "34.8/80.0 GiB" in gpu0 and "65°C" in gpu0
        assert "300/700 W" in gpu0 and gpu0.endswith("moe-big")
        assert gpu1.endswith("1 other process") and gpu2.endswith("free")

        await pilot.press("ctrl+t")
        await until(pilot, lambda: panel_shown(app, 4), what="the queue screen's panel")
        assert panel_lines(app)[1].endswith("moe-big")


@scenario
async def test_eight_gpus_leave_the_runs_table_a_dozen_rows_at_80x24(runs_dir):
    store = RunStore(runs_dir)
    for i in range(15):
        finished_run(store, f"run-{i}", quick_config(), 4.0, steps=2)
    eight = Sample(0.0, HOST, tuple(GpuUsage(i, util=50.0, mem_used=GiB, mem_total=80 * GiB) for i in range(8)))
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1, sampler=lambda roots: eight)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.screen.query_one(HardwarePanel)
        await until(pilot, lambda: panel.display and panel.size.height, what="the panel")
        await pilot.pause(0.2)
        assert panel.size.height == 9  # the host and every GPU
        assert app.screen.query_one("#runs").size.height >= 12  # a header and eleven runs


@scenario
async def test_a_runs_view_shows_its_gpus_utilisation_and_memory_over_time(runs_dir):
    store = RunStore(runs_dir)
    run_id = live_run(store, "moe-big")
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1, hardware_interval=0.05,
                     sampler=engines_on_gpu0(itertools.chain([0.0, 50.0], itertools.repeat(100.0))))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.state.usage.get(run_id, ())) >= 3, what="three samples of the run")
        strip = await run_view_strip(pilot, run_id)
        await until(pilot, lambda: strip.display and strip.size.width, what="the run's hardware, laid out")
        util, memory = str(strip.render()).splitlines()
        assert util.startswith("GPU 0 util") and util.endswith("100%")
        assert "▅█" in util  # 50 then 100 percent, oldest first (the first 0 may come before the run is known)
        assert memory.startswith("GPU 0 mem") and memory.endswith("40.0/80.0 GiB")


@scenario
async def test_a_cpu_runs_view_shows_its_engines_cpu_and_memory_and_a_finished_run_shows_none(runs_dir):
    store = RunStore(runs_dir)
    run_id = live_run(store, "on-cpu")
    done = finished_run(store, "done", quick_config(), 4.0, steps=2)
    no_gpus = Sample(0.0, HOST, (), {os.getpid(): TreeUsage(frozenset({os.getpid()}), 150.0, 3 * GiB // 2)})
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1, sampler=lambda roots: no_gpus,
                     hardware_interval=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.usage.get(run_id), what="a sample of the run")
        assert panel_lines(app)[0].startswith("CPU") and len(panel_lines(app)) == 1
        strip = await run_view_strip(pilot, run_id)
        await until(pilot, lambda: strip.display and strip.size.width, what="the run's hardware, laid out")
        cpu, memory = str(strip.render()).splitlines()
        assert cpu.startswith("engine CPU") and cpu.endswith("150%")
        assert memory.startswith("engine RSS") and memory.endswith("1.50 GiB")

        app.pop_screen()
        strip = await run_view_strip(pilot, done)
        await pilot.pause(0.3)
        assert not strip.display


@scenario
async def test_on_this_machine_the_real_sampler_fills_the_panel_with_what_it_has(runs_dir):
    """No GPU driver here (or a GPU, on a GPU runner): either way CPU and RAM come first."""
    app = create_app(RunStore(runs_dir), scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.screen.query_one(HardwarePanel)
        await until(pilot, lambda: panel.display, what="the panel")
        lines = panel_lines(app)
        assert lines[0].startswith("CPU") and "GiB" in lines[0]
        assert len(lines) == 1 + len(app.state.hardware.gpus)
