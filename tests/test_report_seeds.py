"""Acceptance: run stores built from the five seed reports' published tables, on the built-in
studies' own configs, reported by `moetui report` -- rank, Δ, verdict, compute flags and the
best configuration of each, and the journey across ablation -> lr-schedule."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moetui.cli import app
from moetui.presets import PresetError, load_study
from moetui.report.ranking import SINGLE
from moetui.report.stats import improvement
from tests.report_helpers import write_optimized_run, write_seed_study


def _report(*args: str):
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _study(runs_dir, study: str) -> dict:
    write_seed_study(runs_dir, study)
    return json.loads(_report("--study", study, "--format", "json"))


def _by_label(data: dict) -> dict:
    return {row["label"]: row for row in data["rows"]}


# (study, its declared baseline, the seed's order by val loss, its best, variants flagged for more compute)
SEEDS = [
    ("ablation", "baseline", ["combo_grad_dropout", "combo_grad_lr", "combo_grad_experts", "grad_accum_2",
                              "ultimate_combo", "baseline"], "combo_grad_dropout", []),
    ("lr-schedule", "baseline", ["cosine_warmup_05", "baseline"], "cosine_warmup_05", []),
    ("architecture", "Baseline", ["SmallBatch", "Deeper", "Baseline", "MoreExperts", "Top3Experts", "LowDropout",
                                  "Wider", "HighLR", "LongSeq"], "SmallBatch",
     ["Deeper", "Top3Experts", "Wider", "LongSeq"]),
    # Seed 002 prints its top five and its worst; 10_low_grad_clip and 15_low_dropout tie at 6.99
    # and keep the report's (and the study's) order.
    ("reasoning", "1_baseline", ["4_high_lr", "6_no_warmup", "14_no_dropout", "10_low_grad_clip",
                                 "15_low_dropout"], "4_high_lr", ["2_recursive", "9_more_topk"]),
    ("components", "baseline", ["post_norm", "baseline", "no_pos_emb", "no_norm", "silu_ffn"], "post_norm", []),
]


def test_every_built_in_study_declares_its_baseline_and_a_wrong_one_is_refused(tmp_path, monkeypatch):
    assert {study: load_study(study).baseline for study, *_ in SEEDS} == {study: base for study, base, *_ in SEEDS}
    monkeypatch.setenv("MOETUI_PRESETS", str(tmp_path))
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "odd.toml").write_text('base = "quick"\nbaseline = "Base"\n'
                                                   '[[variant]]\nname = "base"\n[[variant]]\nname = "other"\n')
    with pytest.raises(PresetError, match="baseline = 'Base' is not one of its variants; variants: base, other"):
        load_study("odd")


@pytest.mark.parametrize("study, baseline, order, best, more_compute", SEEDS, ids=[s[0] for s in SEEDS])
def test_each_seed_study_ranks_as_its_report_and_names_its_best_with_the_single_seed_caveat(
        runs_dir, study, baseline, order, best, more_compute):
    data = _study(runs_dir, study)
    assert data["baseline"] == baseline and data["baseline_choice"] == f"declared by study {study}"
    labels = [row["label"] for row in data["rows"]]
    assert labels[:len(order)] == order and [row["rank"] for row in data["rows"]] == list(range(1, len(labels) + 1))
    rows = _by_label(data)
    # One seed per variant: no variant is "better", every one says why, and the leader is still named.
    assert {row["verdict"] for label, row in rows.items() if label != baseline} == {SINGLE}
    assert all(row["p_value"] is None for row in rows.values())
    assert data["best"]["label"] == best and data["best"]["verdict"] == SINGLE
    flagged = sorted(label for label, row in rows.items() if any(f.startswith("more compute") for f in row["flags"]))
    assert flagged == sorted(more_compute)
    assert len(data["runs"]) == len(rows) and all(run["counted"] for run in data["runs"])


def test_seed_000s_improvement_column_and_its_winner_at_the_baselines_tokens(runs_dir):
    data = _study(runs_dir, "ablation")
    rows = _by_label(data)
    assert [round(row["delta_pct"], 1) for row in data["rows"][:5]] == [6.5, 5.2, 4.6, 3.8, 1.5]
    assert round(rows["combo_grad_dropout"]["delta_abs"], 4) == 0.4709
    # Accumulation 2 makes 10 optimizer steps over the baseline's 5 on the same 20 x 24 x 512 tokens:
    # the same compute, so nothing is flagged and the winner stands.
    assert rows["combo_grad_dropout"]["step"] == 10 and rows["baseline"]["step"] == 5
    assert {row["tokens"] for row in data["rows"]} == {20 * 24 * 512}
    assert all(not any("compute" in f for f in row["flags"]) for row in data["rows"])
    text = _report("--study", "ablation")
    assert "**combo_grad_dropout**: val loss 6.8076 vs 7.2785 baseline (+6.5% (+0.4709))" in text
    assert "Caveat: single seed: no noise estimate" in text


def test_seed_003s_improvement_column_and_its_winner_on_half_the_tokens(runs_dir):
    rows = _by_label(_study(runs_dir, "architecture"))
    # Seed 003's "Improvement" is the loss difference, negative = better; ours is positive = better.
    seed_column = {"Deeper": -0.0008, "MoreExperts": 0.0006, "Top3Experts": 0.0392, "LowDropout": 0.0450,
                   "Wider": 0.2138, "HighLR": 0.3069, "LongSeq": 0.3307}
    assert {label: round(-rows[label]["delta_abs"], 4) for label in seed_column} == seed_column
    small = rows["SmallBatch"]
    assert small["tokens"] * 2 == rows["Baseline"]["tokens"]
    assert any(f.startswith("less compute than the baseline: 614,400 vs 1,228,800 tokens") for f in small["flags"])


def test_seed_004s_deltas_to_the_digit_its_table_gives(runs_dir):
    rows = _by_label(_study(runs_dir, "components"))
    # Seed 004 prints "Δ vs Baseline" with positive = worse; it truncated post_norm's -0.036% to -0.03%.
    assert round(-rows["no_norm"]["delta_pct"], 2) == 0.60 and round(-rows["silu_ffn"]["delta_pct"], 2) == 1.43
    assert -0.04 < -rows["post_norm"]["delta_pct"] < -0.03 and rows["no_pos_emb"]["delta_pct"] == 0.0


def test_seed_002s_twin_variant_and_its_range(runs_dir):
    data = _study(runs_dir, "reasoning")
    rows = _by_label(data)
    assert "same effective config as 1_baseline" in rows["8_few_experts"]["flags"]
    assert data["rows"][-1]["label"] == "13_vlow_lr"
    worst, best = data["rows"][-1]["val_loss"], data["rows"][0]["val_loss"]
    assert round(improvement(worst, best, True).relative, 1) == 29.5  # "29.5% improvement from worst to best"


def test_the_journey_ablation_then_lr_schedule_and_the_separate_optimized_run(runs_dir):
    write_seed_study(runs_dir, "ablation")
    write_seed_study(runs_dir, "lr-schedule", created_from=100)
    text = _report("--journey", "ablation", "lr-schedule")
    assert "| Val loss | 7.2785 | 6.8076 | 6.7518 | +7.2% (+0.5267) |" in text
    write_optimized_run(runs_dir)
    data = json.loads(_report("--journey", "ablation", "lr-schedule", "--format", "json"))
    assert [stage["values"]["val_loss"] for stage in data["stages"]] == [7.2785, 6.8076, 6.7518, 6.7358]
    assert [stage["variant"] for stage in data["stages"]] == ["baseline", "combo_grad_dropout", "cosine_warmup_05",
                                                              "optimized"]
    assert round(data["stages"][-1]["vs_first"]["val_loss"]["relative"], 1) == 7.5  # seed 001's total
    assert [stage["caveat"] for stage in data["stages"][1:3]] == [SINGLE, SINGLE]
    text = _report("--journey", "ablation", "lr-schedule")
    assert "| Val loss | 7.2785 | 6.8076 | 6.7518 | 6.7358 | +7.5% (+0.5427) |" in text
    assert "| Val perplexity | 1448.82 | 904.73 | 855.57 | 841.98 | +41.9% (+606.84) |" in text
