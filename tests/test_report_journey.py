"""The cumulative table across studies reproduces seed 001 and says when studies do not chain."""

from __future__ import annotations

from moetui.report import cells
from moetui.report.journey import build_journey
from moetui.report.ranking import rank_runs
from tests.report_helpers import LR_SCHEDULE, ablation_summaries, summary


def _lr_study(table=LR_SCHEDULE):
    return [summary(v, loss, acc, o, ppl=ppl, study="lr-schedule") for v, loss, acc, ppl, o in table]


def test_the_journey_reproduces_seed_001s_cumulative_table():
    journey = build_journey([("ablation", rank_runs(ablation_summaries())),
                             ("lr-schedule", rank_runs(_lr_study()))])
    assert [s.row.label for s in journey.stages] == ["baseline", "combo_grad_dropout", "cosine_warmup_05"]
    headers = cells.journey_headers(journey)
    assert headers == ["Metric", "Original baseline (ablation: baseline)", "After ablation (combo_grad_dropout)",
                       "After lr-schedule (cosine_warmup_05)", "Total improvement"]
    table = {row[0]: row[1:] for row in cells.journey_cells(journey)}
    assert table["Val loss"] == ["7.2785", "6.8076", "6.7358", "+7.5% (+0.5427)"]
    assert table["Val accuracy"] == ["11.58%", "14.25%", "14.97%", "+29.3% (+3.39 pp)"]
    assert table["Val perplexity"] == ["1448.82", "904.73", "841.98", "+41.9% (+606.84)"]
    assert table["Training time"] == ["12.0 s", "12.0 s", "12.0 s", "+0.0% (+0.0 s)"]
    stages = cells.stage_cells(journey)
    assert stages[1][4] == "+6.5% (+0.4709)" and stages[2][4] == "+1.1% (+0.0718)"
    assert stages[2][3] == "schedule.warmup_ratio: 0.1 → 0.05"
    assert all(s.note is None for s in journey.stages)


def test_a_study_that_did_not_start_from_the_previous_winner_is_called_out():
    # Seed 001's phase 2 really started from 6.8625 on another config: its 1.6% does not add to 6.5%.
    table = [("baseline", 6.8625, 0.1299, 955.71, []),
             ("cosine_warmup_05", 6.7518, 0.1512, 855.57, ["schedule.warmup_ratio=0.05"])]
    journey = build_journey([("ablation", rank_runs(ablation_summaries())),
                             ("lr-schedule", rank_runs(_lr_study(table)))])
    last = journey.stages[2]
    assert round(last.in_study["val_loss"].relative, 1) == 1.6
    assert "lr-schedule's baseline is not the previous winner" in last.note
    assert "model.dropout: 0.05 → 0.1" in last.note


def test_a_study_with_no_clean_win_keeps_its_baseline():
    flat = [("baseline", 6.8076, 0.1425, 904.73, []), ("worse", 6.9, 0.14, None, ["model.dropout=0.2"])]
    journey = build_journey([("ablation", rank_runs(ablation_summaries())),
                             ("lr-schedule", rank_runs(_lr_study(flat)))])
    assert journey.stages[2].row.label == "baseline" and "no clean win in lr-schedule" in journey.stages[2].note
