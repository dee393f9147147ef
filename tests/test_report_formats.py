"""Every output format carries the same ranking: Markdown, CSV, JSON, HTML, SVG, terminal; and
numbers are shown with one unit and sign per column, never a real difference as 0.0%."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

from rich.console import Console

from engine.config import Config
from moetui.report import cells, html, markdown, records, tabular, terminal
from moetui.report.journey import build_journey
from moetui.report.ranking import rank_runs
from moetui.report.stats import Stat
from moetui.report.svg import curves_svg, nice_ticks
from tests.report_helpers import study_config, study_summaries, summary


def _ranking():
    return rank_runs(study_summaries("ablation"), "baseline", baseline_choice="declared by study ablation")


def test_markdown_states_the_convention_ranks_the_table_and_gives_a_loadable_best_config():
    text = markdown.render_ranking(_ranking(), "Study ablation", chart="curves.svg")
    assert text.startswith("# Study ablation\n")
    assert "positive = better" in text and "lower is better" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| Rank | Run | Seeds | Val loss | Val accuracy | Val perplexity | Δ val loss vs "
                               "baseline | p | Verdict |")
    assert table[2].startswith("| 1 | combo_grad_dropout | n=1 | 6.8076 | 14.25% | 904.73 | +6.5% (+0.4709) | – "
                               "| single seed: no noise estimate | 10 | 246k |")
    assert table[-1].startswith("| 6 | baseline | n=1 | 7.2785 | 11.58% | 1448.82 | baseline | – | baseline | 5 |")
    assert "![val loss curves](curves.svg)" in text
    assert "Verdicts: Welch's t-test (scipy.stats.ttest_ind, equal_var=False" in text  # the footer names the test
    assert "Baseline: baseline, declared by study ablation." in text
    assert "Caveat: single seed: no noise estimate" in text
    block = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    assert Config.from_toml(block) == study_config("ablation", "combo_grad_dropout")


def test_csv_holds_variant_rows_and_run_rows_in_one_table():
    rows = list(csv.DictReader(io.StringIO(tabular.to_csv(records.csv_records(_ranking())))))
    variants = [r for r in rows if r["level"] == "variant"]
    runs = [r for r in rows if r["level"] == "run"]
    assert len(variants) == 6 and len(runs) == 6 and rows[0]["level"] == "variant"
    best = variants[0]
    assert best["label"] == "combo_grad_dropout" and float(best["val_loss"]) == 6.8076
    assert round(float(best["delta_pct"]), 1) == 6.5 and round(float(best["delta_abs"]), 4) == 0.4709
    assert best["key_changes"] == ("model.dropout: 0.1 → 0.05; train.gradient_accumulation_steps: 4 → 2; "
                                   "train.max_steps: 5 → 10")
    assert int(best["tokens"]) == 10 * 24 * 2 * 512 and best["verdict"] == "single seed: no noise estimate"
    assert best["p_value"] == "" and variants[-1]["delta_pct"] == ""  # no test with one seed; the baseline has no Δ
    run = next(r for r in runs if r["variant"] == "combo_grad_dropout")
    assert run["seed"] == "42" and run["status"] == "completed" and run["counted"] == "True"
    assert float(run["val_loss"]) == 6.8076 and run["step"] == "10"


def test_json_has_a_runs_list_beside_the_variant_rows():
    ranking = rank_runs([summary("baseline", 7.0, seed=1), summary("baseline", 7.1, seed=2),
                         summary("drop", 6.5, overrides=["model.dropout=0.0"], seed=1),
                         summary("drop", 6.9, overrides=["model.dropout=0.0"], seed=2, status="crashed")], "baseline")
    data = json.loads(tabular.to_json(records.ranking_record(ranking)))
    assert data["schema"] == 2 and data["alpha"] == 0.05 and "Welch" in data["test"]
    assert [(r["label"], r["n"], r["n_runs"]) for r in data["rows"]] == [("drop", 1, 2), ("baseline", 2, 2)]
    runs = {(r["variant"], r["seed"]): r for r in data["runs"]}
    assert set(runs) == {("baseline", 1), ("baseline", 2), ("drop", 1), ("drop", 2)}
    crashed = runs[("drop", 2)]
    assert crashed["status"] == "crashed" and crashed["counted"] is False and crashed["left_out"] == "crashed"
    assert crashed["val_loss"] == 6.9 and crashed["run"] == "drop seed 2 (crashed)"
    assert runs[("baseline", 1)]["tokens"] == 20 * 24 * 4 * 512 and runs[("baseline", 1)]["flops"] > 0
    assert json.loads(json.dumps(data)) == data


def test_json_turns_an_undefined_percentage_into_null():
    runs = [summary("baseline", 7.0, 0.0), summary("other", 6.9, 0.01, ["model.dropout=0.05"])]
    text = tabular.to_json(records.ranking_record(rank_runs(runs, "baseline", metric="val_accuracy")))
    assert json.loads(text)["rows"][0]["delta_pct"] is None  # accuracy from 0 has no % change, yet JSON is valid


def test_a_real_difference_never_prints_as_zero_percent():
    assert [cells.percent(x) for x in (6.47, 23.1, 0.036, 0.597, 0.0108, -1.43, 0.0)] == \
        ["+6.5%", "+23.1%", "+0.036%", "+0.60%", "+0.011%", "-1.4%", "+0.0%"]
    deeper = next(r for r in rank_runs(study_summaries("architecture"), "Baseline").rows if r.label == "Deeper")
    assert cells.delta("val_loss", deeper.deltas["val_loss"]) == "+0.011% (+0.00080)"  # seed 003's -0.0008


def test_time_cells_keep_one_unit_per_column_named_in_the_header():
    assert cells.time_unit([12.0, 90.0]) == ("s", 1.0) and cells.time_unit([12.0, 186.0])[0] == "min"
    ranking = rank_runs(study_summaries("architecture"), "Baseline")
    headers, rows = cells.ranking_headers(ranking), cells.ranking_cells(ranking)
    column = headers.index("Wall time (min, incl. evals)")
    assert [row[column] for row in rows][:3] == ["1.8", "3.1", "2.1"]
    assert cells.duration(Stat(150.0, 6.0, 3), ("min", 60.0)) == "2.5 ± 0.1"


def test_html_is_one_self_contained_file_with_the_table_and_an_svg_chart():
    page = html.render_ranking(_ranking(), "Study ablation")
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "<svg" in page
    assert not re.search(r"https?://", page), "the page must not reference anything outside itself"
    assert not re.search(r"<(script|link|img)\b", page)
    assert "<td>combo_grad_dropout</td><td>n=1</td><td>6.8076</td>" in page
    assert 'tr class="single-seed"' in page and "Welch" in page
    ET.fromstring(re.search(r"<svg.*?</svg>", page, re.S).group(0))  # well-formed


def test_single_eval_points_get_a_marker_and_curves_a_line():
    one = summary("one", 7.0, study=None)
    one.curve_steps, one.curve_loss = [5], [7.0]
    two = summary("two", 6.9, study=None)
    root = ET.fromstring(curves_svg([("one", one), ("two", two)]))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and len(root.findall(f".//{ns}polyline")) == 1
    marker = root.find(f".//{ns}circle")
    assert marker is not None and marker.find(f"{ns}title").text == "one"
    assert "no val-loss points" in curves_svg([])
    assert nice_ticks(6.3, 7.8) == [6.5, 7.0, 7.5] and nice_ticks(0, 20) == [0, 5, 10, 15, 20]
    plot = terminal.plot_curves([("one", one), ("two", two)], width=60, height=15)
    assert "●" in plot and "one" in plot and "two" in plot


def test_chart_legends_tell_runs_of_one_name_apart():
    """Two ad-hoc runs named quick with other configs are two rows and two curves, told apart
    by their short ids; one variant's seeds by their seed."""
    runs = [summary("quick", 7.0, study=None, run_id="20260101-100000-aaaa-quick"),
            summary("quick", 6.9, 0.1, ["model.d_model=256"], study=None, run_id="20260101-110000-bbbb-quick")]
    ranking = rank_runs(runs, "20260101-100000-aaaa-quick")
    assert [row.label for row in ranking.rows] == ["quick · 20260101-110000-bbbb", "quick · 20260101-100000-aaaa"]
    assert [label for label, _ in ranking.curves()] == [row.label for row in ranking.rows]
    seeds = rank_runs([summary("baseline", 7.0, seed=1), summary("baseline", 7.1, seed=2)], "baseline")
    assert [label for label, _ in seeds.curves()] == ["baseline seed 1", "baseline seed 2"]


def test_journey_renders_in_every_format():
    lr = rank_runs(study_summaries("lr-schedule"), "baseline")
    journey = build_journey([("ablation", _ranking()), ("lr-schedule", lr)])
    md = markdown.render_journey(journey, "Cumulative")
    assert "| Val loss | 7.2785 | 6.8076 | 6.7518 | +7.2% (+0.5267) |" in md
    rows = list(csv.DictReader(io.StringIO(tabular.to_csv(records.journey_record(journey)["stages"]))))
    assert [r["variant"] for r in rows] == ["baseline", "combo_grad_dropout", "cosine_warmup_05"]
    assert round(float(rows[2]["vs_previous.val_loss.relative"]), 2) == 0.82
    data = json.loads(tabular.to_json(records.journey_record(journey)))
    assert data["stages"][2]["caveat"] == "single seed: no noise estimate"
    assert {"key": "schedule.warmup_steps", "old": 2, "new": 1} in data["stages"][2]["changes"]
    assert "<table>" in html.render_journey(journey, "Cumulative")


def test_the_terminal_table_renders():
    console = Console(file=io.StringIO(), width=300, color_system=None)
    console.print(terminal.render_ranking(_ranking(), "Study ablation"))
    out = console.file.getvalue()
    assert "combo_grad_dropout" in out and "+6.5% (+0.4709)" in out and "[model]" in out and "Welch" in out
