"""The journey across studies: each study's best configuration is the next one's baseline,
on seed 001's numbers 7.2785 -> 6.8076 -> 6.7518, and a separate run of the final
configuration (seed 001's 6.7358) is one more stage."""

from __future__ import annotations

import pytest

from moetui.report import cells
from moetui.report.journey import build_journey
from moetui.report.ranking import SINGLE, rank_runs
from moetui.report.rows import group_runs
from moetui.report.stats import improvement
from tests.report_helpers import optimized_summary, study_summaries, summary


def _seed_journey(separate=()):
    return build_journey([("ablation", rank_runs(study_summaries("ablation"), "baseline")),
                          ("lr-schedule", rank_runs(study_summaries("lr-schedule"), "baseline"))],
                         group_runs(list(separate), "val_loss", None))


def test_each_studys_best_is_the_next_stage_and_the_chain_is_the_seeds():
    journey = _seed_journey()
    assert [(s.study, s.row.label) for s in journey.stages] == [
        ("ablation", "baseline"), ("ablation", "combo_grad_dropout"), ("lr-schedule", "cosine_warmup_05")]
    assert [s.row.stats["val_loss"].mean for s in journey.stages] == [7.2785, 6.8076, 6.7518]
    last = journey.stages[2]
    assert last.vs_previous["val_loss"] == improvement(6.8076, 6.7518, True)  # against the previous stage
    assert last.vs_first["val_loss"] == improvement(7.2785, 6.7518, True)  # and against the first baseline
    assert last.in_study["val_loss"] == improvement(6.8625, 6.7518, True)  # seed 001's "1.6%"
    assert all(s.caveat == SINGLE for s in journey.stages[1:])  # one seed each: named, with the caveat
    headers = cells.journey_headers(journey)
    assert headers == ["Metric", "Original baseline (ablation: baseline)", "After ablation (combo_grad_dropout)",
                       "After lr-schedule (cosine_warmup_05)", "Total improvement"]
    table = {row[0]: row[1:] for row in cells.journey_cells(journey)}
    assert table["Val loss"] == ["7.2785", "6.8076", "6.7518", "+7.2% (+0.5267)"]
    assert table["Val accuracy"] == ["11.58%", "14.25%", "15.12%", "+30.6% (+3.54 pp)"]
    assert table["Wall time (s, incl. evals)"] == ["12.0", "12.0", "12.0", "+0.0% (+0.0)"]


def test_only_keys_whose_effective_values_changed_are_shown():
    """lr-schedule writes its warmup as a ratio (0.1 of 10 steps) where the winner it starts
    from writes 2 steps: the change is 2 -> 1 steps, and no warmup_ratio appears."""
    journey = _seed_journey()
    first, second = (cells.stage_cells(journey)[i][3] for i in (1, 2))
    assert "model.dropout: 0.1 → 0.05" in first and "train.gradient_accumulation_steps: 4 → 2" in first
    assert "schedule.warmup_steps: 2 → 1" in second
    assert "warmup_ratio" not in first + second and "dropout" not in second


def test_a_separate_run_of_the_final_configuration_is_one_more_stage():
    journey = _seed_journey([optimized_summary(), summary("unrelated", 6.0, 0.2, study=None)])
    assert [s.row.stats["val_loss"].mean for s in journey.stages] == [7.2785, 6.8076, 6.7518, 6.7358]
    extra = journey.stages[3]
    assert extra.study == "" and extra.row.label == "optimized" and extra.changes == []
    assert cells.journey_headers(journey)[4] == "Separate run (optimized)"
    table = {row[0]: row[1:] for row in cells.journey_cells(journey)}
    assert table["Val loss"] == ["7.2785", "6.8076", "6.7518", "6.7358", "+7.5% (+0.5427)"]  # seed 001's total
    assert table["Val perplexity"] == ["1448.82", "904.73", "855.57", "841.98", "+41.9% (+606.84)"]
    assert round(journey.total["val_accuracy"].relative, 1) == 29.3


def test_a_study_whose_baseline_is_not_the_standing_configuration_says_so():
    first = rank_runs([summary("baseline", 7.0, study="a"),
                       summary("drop", 6.5, overrides=["model.dropout=0.05"], study="a")], "baseline")
    # The second study starts from dropout 0.1 again, not from the winner's 0.05.
    second = rank_runs([summary("baseline", 6.9, study="b"),
                        summary("lr", 6.6, overrides=["optim.muon_lr=0.08"], study="b")], "baseline")
    stage = build_journey([("a", first), ("b", second)]).stages[2]
    assert stage.row.label == "lr" and "b's baseline baseline is not the previous stage's configuration" in stage.note
    assert "model.dropout: 0.05 → 0.1" in stage.note
    # (AdamW's lr follows Muon's on both sides, so its change is Muon's, not a second key)
    assert [cells.change(*c) for c in stage.changes] == ["model.dropout: 0.05 → 0.1", "optim.muon_lr: 0.065 → 0.08"]


def test_a_study_with_no_best_leaves_the_previous_configuration_standing():
    flat = rank_runs([summary("baseline", 6.9, study="b"),
                      summary("worse", 7.2, overrides=["model.dropout=0.2"], study="b")], "baseline")
    journey = build_journey([("ablation", rank_runs(study_summaries("ablation"), "baseline")), ("b", flat)])
    stage = journey.stages[2]
    assert stage.row.label == "combo_grad_dropout" and "no variant of b beat its baseline" in stage.note
    assert stage.vs_previous["val_loss"].relative == pytest.approx(0.0)
