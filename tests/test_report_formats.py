"""Every output format carries the same ranking: Markdown, CSV, JSON, HTML, SVG, terminal."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

from rich.console import Console

from engine.config import Config
from moetui.report import html, markdown, records, tabular, terminal
from moetui.report.journey import build_journey
from moetui.report.ranking import rank_runs
from moetui.report.svg import curves_svg, nice_ticks
from tests.report_helpers import BEST_OVERRIDES, LR_SCHEDULE, ablation_summaries, config, summary


def _ranking():
    return rank_runs(ablation_summaries())


def test_markdown_states_the_convention_ranks_the_table_and_gives_a_loadable_best_config():
    text = markdown.render_ranking(_ranking(), "Study ablation", chart="curves.svg")
    assert text.startswith("# Study ablation\n")
    assert "positive = better" in text and "lower is better" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| Rank | Run | Val loss | Val accuracy | Val perplexity | Δ vs baseline |")
    assert table[2].startswith("| 1 | combo_grad_dropout | 6.8076 | 14.25% | 904.73 | +6.5% (+0.4709) |")
    assert table[-1].startswith("| 6 | baseline | 7.2785 | 11.58% | 1448.82 | baseline |")
    assert "![val loss curves](curves.svg)" in text
    block = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    assert Config.from_toml(block) == config(BEST_OVERRIDES)


def test_csv_parses_back_to_the_same_numbers():
    rows = list(csv.DictReader(io.StringIO(tabular.to_csv(
        [records.row_record(r, "val_loss") for r in _ranking().rows]))))
    assert [r["label"] for r in rows][:2] == ["combo_grad_dropout", "combo_grad_lr"]
    best = rows[0]
    assert float(best["val_loss"]) == 6.8076 and float(best["val_accuracy"]) == 0.1425
    assert round(float(best["delta_pct"]), 1) == 6.5 and round(float(best["delta_abs"]), 4) == 0.4709
    assert best["key_changes"] == "model.dropout: 0.1 → 0.05; train.gradient_accumulation_steps: 4 → 2"
    assert int(best["tokens"]) == 20 * 24 * 2 * 512 and best["verdict"] == "better" and best["n"] == "1"
    assert rows[-1]["delta_pct"] == ""  # the baseline has no Δ


def test_json_round_trips_with_raw_numbers_and_the_best_config():
    ranking = _ranking()
    data = json.loads(tabular.to_json(records.ranking_record(ranking)))
    assert data["schema"] == 1 and data["metric"] == "val_loss" and data["lower_is_better"] is True
    assert data["baseline"] == "baseline" and len(data["rows"]) == 6
    top = data["rows"][0]
    assert top["label"] == "combo_grad_dropout" and top["rank"] == 1
    assert top["runs"] == ["ablation-combo_grad_dropout-42"]
    assert top["key_changes"][0] == {"key": "model.dropout", "old": 0.1, "new": 0.05}
    assert Config.from_dict(data["best"]["config"]) == config(BEST_OVERRIDES)
    assert json.loads(json.dumps(data)) == data


def test_json_turns_an_undefined_percentage_into_null():
    ranking = rank_runs([summary("baseline", 7.0, 0.0), summary("other", 6.9, 0.01, ["model.dropout=0.05"])])
    data = json.loads(tabular.to_json(records.ranking_record(ranking)))
    assert data["rows"][0]["label"] == "other"  # accuracy from 0 has no % change, yet JSON stays valid
    text = tabular.to_json(records.ranking_record(rank_runs(ranking.rows[0].runs + ranking.rows[1].runs,
                                                            metric="val_accuracy")))
    assert json.loads(text)["rows"][0]["delta_pct"] is None


def test_html_is_one_self_contained_file_with_the_table_and_an_svg_chart():
    page = html.render_ranking(_ranking(), "Study ablation")
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "<svg" in page
    assert not re.search(r"https?://", page), "the page must not reference anything outside itself"
    assert not re.search(r"<(script|link|img)\b", page)
    assert "<td>combo_grad_dropout</td><td>6.8076</td>" in page
    assert page.count("<polyline") == 6
    ET.fromstring(re.search(r"<svg.*?</svg>", page, re.S).group(0))  # well-formed


def test_the_standalone_svg_is_valid_xml_with_one_curve_per_run():
    runs = ablation_summaries()
    root = ET.fromstring(curves_svg([(r.variant, r) for r in runs]))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) == 6
    assert "no val-loss points" in curves_svg([])
    assert nice_ticks(6.3, 7.8) == [6.5, 7.0, 7.5] and nice_ticks(0, 20) == [0, 5, 10, 15, 20]


def test_journey_renders_in_every_format():
    lr = [summary(v, loss, acc, o, ppl=ppl, study="lr-schedule") for v, loss, acc, ppl, o in LR_SCHEDULE]
    journey = build_journey([("ablation", _ranking()), ("lr-schedule", rank_runs(lr))])
    md = markdown.render_journey(journey, "Cumulative")
    assert "| Val loss | 7.2785 | 6.8076 | 6.7358 | +7.5% (+0.5427) |" in md
    rows = list(csv.DictReader(io.StringIO(tabular.to_csv(records.journey_record(journey)["stages"]))))
    assert [r["variant"] for r in rows] == ["baseline", "combo_grad_dropout", "cosine_warmup_05"]
    assert round(float(rows[2]["cumulative.val_loss.relative"]), 1) == 7.5
    data = json.loads(tabular.to_json(records.journey_record(journey)))
    assert round(data["stages"][2]["cumulative"]["val_perplexity"]["relative"], 1) == 41.9
    assert "<table>" in html.render_journey(journey, "Cumulative")


def test_the_terminal_table_and_plot_render():
    console = Console(file=io.StringIO(), width=250, color_system=None)
    console.print(terminal.render_ranking(_ranking(), "Study ablation"))
    out = console.file.getvalue()
    assert "combo_grad_dropout" in out and "+6.5% (+0.4709)" in out and "[model]" in out
    plot = terminal.plot_curves(_ranking().curves(), width=80, height=20)
    assert "val loss" in plot and "combo_grad_dropout" in plot
