"""The launch form's "runs on: Slurm": a run and a study handed to a real Slurm cluster
(scripts/slurm_local.sh) from the TUI, one job each, then followed through the store like
any run not started by this TUI."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, OptionList, Select

from moetui import presets
from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.study_preview import StudyPreviewScreen
from tests.slurm_fixtures import cluster, store  # noqa: F401 (fixtures)
from tests.test_tui_live import FAST
from tests.tui_pilot import fill_form, scenario, until

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

STUDY = """description = "two learning rates, from the TUI to Slurm"
base = "quick"
seeds = [1]

[[variant]]
name = "low"
overrides = ["optim.muon_lr=0.02"]

[[variant]]
name = "high"
overrides = ["optim.muon_lr=0.08"]
"""


def _cells(app) -> str:
    table = app.screen.query_one(DataTable)
    return " ".join(str(cell) for row in range(table.row_count) for cell in table.get_row_at(row))


def _done(store: RunStore, count: int) -> bool:
    records = store.list()
    return len(records) == count and all(record.status in ("completed", "failed", "crashed") for record in records)


@scenario
async def test_a_run_and_a_study_launched_from_the_form_on_slurm_run_as_jobs(store, token_cache_dir, tmp_path,
                                                                             monkeypatch):
    (tmp_path / "presets" / "studies").mkdir(parents=True)
    (tmp_path / "presets" / "studies" / "two-lrs.toml").write_text(STUDY)
    monkeypatch.setenv("MOETUI_PRESETS", str(tmp_path / "presets"))
    app = create_app(store, scan_interval=0.2, redraw_interval=0.2)
    fast = {**FAST, "train.max_steps": 10, "data.cache_dir": token_cache_dir}
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+n")
        await fill_form(pilot, fast)
        app.screen.query_one("#edit-run-name").value = "on-the-cluster"
        app.screen.query_one("#edit-run-where", Select).value = "slurm"
        await pilot.press("ctrl+l")
        await until(pilot, lambda: len(store.list()) == 1, timeout=30, what="the run submitted")
        (record,) = store.list()
        assert (record.name, record.backend, record.status in ("queued", "running")) == ("on-the-cluster", "slurm",
                                                                                         True)
        assert record.job_id and not app.processes  # a job, not an engine of this TUI's
        await pilot.press("ctrl+t")  # the queue screen says where it is: its Slurm job
        await until(pilot, lambda: f"Slurm job {record.job_id}" in _cells(app), what="the job in the queue")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: _done(store, 1), timeout=150, what="the job to finish")
        assert store.list()[0].status == "completed"
        await until(pilot, lambda: app.state.history(record.id).last_step == 10, what="its events in the TUI")

        await pilot.press("ctrl+n")
        options = app.screen.query_one("#presets", OptionList)
        options.focus()
        options.highlighted = options.get_option_index("study:two-lrs")
        await pilot.press("enter", "y")  # yes, drop the edits of the run before
        await until(pilot, lambda: app.screen.study is not None, what="the study in the form")
        await fill_form(pilot, fast)
        assert app.screen.query_one("#edit-run-where", Select).value == "slurm"  # the form kept the choice
        await pilot.press("ctrl+l", "ctrl+u", "1", "enter")
        await until(pilot, lambda: isinstance(app.screen, StudyPreviewScreen) and app.screen.ready, what="the preview")
        await pilot.press("y")
        await until(pilot, lambda: len(store.list()) == 3, timeout=30, what="the study submitted")
        study = [r for r in store.list() if r.study == "two-lrs"]
        assert sorted(r.variant for r in study) == ["high", "low"]
        assert all(r.backend == "slurm" and r.job_id for r in study)
        await until(pilot, lambda: _done(store, 3), timeout=200, what="the study's jobs to finish")
        assert {r.status for r in store.list()} == {"completed"}
    assert presets.load_study("two-lrs").name == "two-lrs"
