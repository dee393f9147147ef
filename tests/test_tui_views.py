"""Stories that need no training: the form refuses a bad config, the compare view ranks
finished runs, and the run view charts what the events say."""

from __future__ import annotations

import csv
import io

from textual.widgets import DataTable, Input, Static

from moetui.runs import RunStore
from moetui.tui import create_app
from moetui.tui.screens.compare import CompareScreen
from moetui.tui.screens.prompt import Prompt
from moetui.tui.screens.run import RunScreen
from moetui.tui.widgets.config_field import ConfigField
from moetui.tui.widgets.metric_chart import MetricChart
from tests.cli_helpers import moetui
from tests.tui_fixtures import finished_run, fixed_store, quick_config
from tests.tui_pilot import scenario, until


@scenario
async def test_an_invalid_field_blocks_launch_and_shows_the_rule(runs_dir):
    store = RunStore(runs_dir)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.screen.query("#edit-model-n_heads"), what="the launch form")
        field = app.screen.query_one("#field-model-n_heads", ConfigField)
        field.editor.focus()
        field.editor.value = ""
        await pilot.press(*"5")  # d_model 128 is not divisible by 5
        await pilot.pause()
        assert field.has_class("-invalid")
        assert "d_model (128) must be divisible by n_heads" in str(field.query_one(".help", Static).render())
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert store.list() == []  # refused: nothing created, nothing started
        assert app.screen.query_one("#launch-status", Static).has_class("-blocked")
        assert any("must be divisible" in n.message for n in app._notifications)
        field.editor.value = ""
        await pilot.press(*"abc")
        await pilot.pause()
        assert "expected int" in str(field.query_one(".help", Static).render())
        field.editor.value = "8"
        await pilot.pause()
        assert not field.has_class("-invalid") and field.has_class("-changed")
        assert "model.n_heads" in str(app.screen.query_one("#diff", Static).render())


@scenario
async def test_compare_shows_only_differing_keys_and_the_reports_verdicts_and_exports(runs_dir, tmp_path):
    store = RunStore(runs_dir)
    ids = fixed_store(store)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await until(pilot, lambda: table.row_count == 5, what="the runs table")
        for run_id in (ids["baseline"], ids["topk1"], ids["lr-high"]):
            table.move_cursor(row=table.get_row_index(run_id))
            await pilot.press("m")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="the compare view")
        await pilot.pause(0.3)
        diff = app.screen.query_one("#config-diff", DataTable)
        keys = [diff.get_row_at(i)[0] for i in range(diff.row_count)]
        assert keys == ["moe.top_k", "optim.muon_lr"]  # only what differs; the seed and everything else agree
        assert diff.get_row_at(0)[1:] == ["2", "1", "2"]
        ranking = app.screen.query_one("#ranking", DataTable)

        def rows():
            headers = [str(c.label) for c in ranking.columns.values()]
            table = (ranking.get_row_at(i) for i in range(ranking.row_count))
            return {row[1]: dict(zip(headers, row)) for row in table}

        shown = rows()
        assert shown["baseline"]["Verdict"] == "baseline"
        assert shown["top_k-1"]["Δ val loss vs baseline"].startswith("-5.0%")  # 4.62 vs 4.40: 5.0% worse
        assert shown["top_k-1"]["Verdict"] == "single seed: no noise estimate"
        assert shown["lr-high"]["Verdict"] == "not counted" and shown["lr-high"]["Rank"] == "3"  # diverged
        notes = str(app.screen.query_one("#ranking-notes", Static).render())
        assert "Baseline: baseline, the first marked run." in notes and "Welch" in notes
        await pilot.press("b")  # the next marked run becomes the baseline
        await pilot.pause(0.3)
        shown = rows()
        assert shown["baseline"]["Δ val loss vs baseline"].startswith("+4.8%")
        assert shown["top_k-1"]["Verdict"] == "baseline"
        assert "Baseline: top_k-1, chosen with b." in str(app.screen.query_one("#ranking-notes", Static).render())
        loss_chart = app.screen.query_one("#cmp-val", MetricChart)
        assert [s.label for s in loss_chart.series] == ["baseline", "top_k-1", "lr-high"]
        assert loss_chart.series[0].color != loss_chart.series[1].color

        await pilot.press("e")  # export: the same table `moetui report` writes, verdicts included
        await until(pilot, lambda: isinstance(app.screen, Prompt), what="the export prompt")
        app.screen.query_one("#answer", Input).value = str(tmp_path / "compare.csv")
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "compare.csv").exists(), what="the exported file")
    exported = list(csv.DictReader(io.StringIO((tmp_path / "compare.csv").read_text())))
    reported = moetui("report", ids["baseline"], ids["topk1"], ids["lr-high"], "--baseline", "top_k-1",
                      "--format", "csv").stdout
    # The same variant rows, verdicts and run rows as the report writes.
    assert exported == list(csv.DictReader(io.StringIO(reported))) and len(exported) == 6


@scenario
async def test_run_view_charts_the_events_and_shows_a_collapsing_layer(runs_dir):
    store = RunStore(runs_dir)
    ids = fixed_store(store)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.state.history(ids["baseline"]).end is not None, what="the events")
        app.open_run(ids["baseline"])
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run view")
        await pilot.pause(0.3)
        chart = app.screen.query_one("#chart-loss", MetricChart)
        raw, smoothed, val = chart.series
        assert raw.xs == list(range(1, 41)) and smoothed.label == "train" and val.xs == [10, 20, 30, 40]
        await pilot.press("s")  # smoothing off: the raw series alone
        await pilot.pause(0.3)
        assert [s.label for s in chart.series] == ["train", "val"]
        await pilot.press("l")
        await pilot.pause(0.3)
        assert chart.log_y
        experts = str(app.screen.query_one("#experts", Static).render())
        assert "layer 1" in experts and "collapsing" in experts


@scenario
async def test_log_scale_before_the_first_eval_keeps_the_app_up_and_says_why_a_chart_is_empty(runs_dir):
    store = RunStore(runs_dir)
    run_id = finished_run(store, "short", quick_config(), 5.0, steps=5)  # evals come every 10 steps: none
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.history(run_id).end is not None, what="the events")
        app.open_run(run_id)
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run view")
        await pilot.press("l")  # plotext used to raise while drawing an empty log-scale chart
        await pilot.pause(0.3)
        ppl = app.screen.query_one("#chart-ppl", MetricChart)
        rendered = str(ppl.render())
        assert ppl.log_y and "no eval yet" in rendered
        loss = app.screen.query_one("#chart-loss", MetricChart)
        first, again = str(loss.render()), str(loss.render())  # plotext logs its data in place when it builds
        assert "(log)" in first and again == first and "-0." not in again
    assert app.return_code in (None, 0)


@scenario
async def test_chart_x_ticks_are_whole_steps(runs_dir):
    store = RunStore(runs_dir)
    run_id = finished_run(store, "short", quick_config(), 5.0, steps=7)  # plotext alone labels 1.0, 2.5, 4.0 …
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.state.history(run_id).end is not None, what="the events")
        app.open_run(run_id)
        await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run view")
        await pilot.pause(0.3)
        lines = str(app.screen.query_one("#chart-loss", MetricChart).render()).splitlines()
        x_labels = lines[next(i for i, line in enumerate(lines) if "└" in line) + 1].split()
    assert x_labels == ["2", "4", "6"]
