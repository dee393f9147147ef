"""The ranking reproduces the seed reports' arithmetic and refuses to call noise a win."""

from __future__ import annotations

import pytest

from moetui.report import cells
from moetui.report.ranking import BETTER, NOISE, WORSE, ReportError, rank_runs
from moetui.report.stats import Stat, improvement, summarize, within_noise
from tests.report_helpers import ablation_summaries, summary


def test_improvement_matches_the_seed_reports_figures():
    loss = improvement(7.2785, 6.8076, lower_is_better=True)
    assert round(loss.relative, 1) == 6.5 and round(loss.absolute, 4) == 0.4709
    assert round(improvement(7.2785, 6.7358, True).relative, 1) == 7.5
    # Seed 000 prints 37.5%: the exact figure is 37.554%, which it truncated (we print 37.6%).
    assert 37.5 < improvement(1448.82, 904.73, True).relative < 37.6
    assert round(improvement(1448.82, 841.98, True).relative, 1) == 41.9
    acc = improvement(0.1158, 0.1425, lower_is_better=False)
    assert round(acc.relative, 1) == 23.1 and round(acc.absolute * 100, 2) == 2.67
    assert round(improvement(0.1158, 0.1497, False).relative, 1) == 29.3
    assert improvement(7.0, 7.5, True).relative < 0  # worse is negative, whatever the metric


def test_stats_over_seeds_and_the_noise_test():
    s = summarize([1.0, 2.0, 3.0, None, float("nan")])
    assert (s.mean, s.std, s.n) == (2.0, 1.0, 3)
    assert summarize([None]) is None and summarize([4.0]) == Stat(4.0, None, 1)
    assert within_noise(Stat(7.0, 0.05, 3), Stat(6.97, 0.05, 3)) is True
    assert within_noise(Stat(7.0, 0.05, 3), Stat(6.80, 0.05, 3)) is False
    assert within_noise(Stat(7.0, None, 1), Stat(6.99, None, 1)) is None  # untestable, not "noise"


def test_the_seed_ablation_table_ranks_and_every_column_reads_as_in_the_report():
    ranking = rank_runs(ablation_summaries())
    order = [row.label for row in ranking.rows]
    assert order == ["combo_grad_dropout", "combo_grad_lr", "combo_grad_experts", "grad_accum_2",
                     "ultimate_combo", "baseline"]
    assert [row.rank for row in ranking.rows] == [1, 2, 3, 4, 5, 6]
    deltas = [round(row.deltas["val_loss"].relative, 1) for row in ranking.rows[:5]]
    assert deltas == [6.5, 5.2, 4.6, 3.8, 1.5]  # seed 000's Improvement column
    table = {row[1]: dict(zip(cells.RANKING_HEADERS, row)) for row in cells.ranking_cells(ranking)}
    best = table["combo_grad_dropout"]
    assert best["Rank"] == "1" and best["Val loss"] == "6.8076" and best["Val accuracy"] == "14.25%"
    assert best["Val perplexity"] == "904.73" and best["Δ vs baseline"] == "+6.5% (+0.4709)"
    assert best["Verdict"] == BETTER and best["Training time"] == "12.0 s" and best["Status"] == "completed"
    assert best["Params (total / active)"] == "79M / 36.6M"
    assert best["Key changes"] == "model.dropout: 0.1 → 0.05, train.gradient_accumulation_steps: 4 → 2"
    assert best["Tokens seen"] == "492k"  # 20 steps x 24 x 2 x 512
    assert best["Flags"] == "tokens 0.5× of baseline"  # what seed 000 never said: half the tokens
    assert table["baseline"]["Δ vs baseline"] == "baseline" and table["baseline"]["Key changes"] == ""
    assert table["baseline"]["Tokens seen"] == "983k"
    assert ranking.best.label == "combo_grad_dropout"  # fewer tokens is flagged, but still a fair win
    assert any("One seed per variant" in note for note in ranking.notes)


def test_accuracy_ranking_uses_percentage_points_and_higher_is_better():
    ranking = rank_runs(ablation_summaries(), metric="val_accuracy")
    assert ranking.rows[0].label == "ultimate_combo"
    row = next(r for r in ranking.rows if r.label == "combo_grad_dropout")
    assert cells.delta("val_accuracy", row.deltas["val_accuracy"]) == "+23.1% (+2.67 pp)"


def test_a_gain_smaller_than_the_seed_spread_is_within_noise_not_a_win():
    runs = [summary("baseline", loss, 0.1, seed=s) for s, loss in ((1, 7.00), (2, 7.10), (3, 6.90))]
    runs += [summary("lucky", loss, 0.1, overrides=["model.dropout=0.05"], seed=s)
             for s, loss in ((1, 6.95), (2, 7.02), (3, 6.88))]
    runs += [summary("real", loss, 0.1, overrides=["model.dropout=0.0"], seed=s)
             for s, loss in ((1, 6.50), (2, 6.55), (3, 6.45))]
    ranking = rank_runs(runs)
    rows = {row.label: row for row in ranking.rows}
    assert rows["lucky"].verdict == NOISE and rows["real"].verdict == BETTER
    assert ranking.best is rows["real"]
    assert cells.stat("val_loss", rows["baseline"].stats["val_loss"]) == "7.0000 ± 0.1000 (n=3)"
    assert rows["real"].key_changes == [("model.dropout", 0.1, 0.0)]  # the seed is the replicate axis
    assert not any("One seed" in note for note in ranking.notes)
    without_real = rank_runs([r for r in runs if r.variant != "real"])
    assert without_real.best is None and any("within noise: lucky" in n for n in without_real.notes)


def test_more_compute_or_an_unfinished_run_is_flagged_and_never_the_best():
    runs = [summary("baseline", 7.0, 0.1), summary("longer", 6.0, 0.2, steps=40),
            summary("crashed", 6.5, 0.15, status="crashed"), summary("fine", 6.9, 0.11, ["model.dropout=0.05"])]
    ranking = rank_runs(runs)
    rows = {row.label: row for row in ranking.rows}
    assert rows["longer"].verdict == BETTER and not rows["longer"].fair
    assert rows["longer"].flags == ["tokens 2× of baseline", "steps 40 vs 20"]
    assert rows["crashed"].flags == ["crashed"] and not rows["crashed"].fair
    assert ranking.best is rows["fine"]


def test_a_run_without_evals_is_listed_last_without_a_rank():
    runs = [summary("baseline", 7.0, 0.1), summary("queued", 0, 0, status="queued")]
    runs[1].val_loss = runs[1].val_accuracy = runs[1].val_perplexity = None
    runs[1].problem = "no eval yet"
    ranking = rank_runs(runs)
    assert [r.label for r in ranking.rows] == ["baseline", "queued"] and ranking.rows[1].rank is None
    assert ranking.rows[1].flags[:2] == ["queued", "no eval yet"]


def test_the_baseline_can_be_named_and_a_wrong_name_gets_a_suggestion():
    ranking = rank_runs(ablation_summaries(), baseline="grad_accum_2")
    assert ranking.baseline.label == "grad_accum_2"
    top = ranking.rows[0]
    assert top.key_changes == [("model.dropout", 0.1, 0.05)]
    with pytest.raises(ReportError, match="did you mean 'grad_accum_2'"):
        rank_runs(ablation_summaries(), baseline="grad_acum_2")
    with pytest.raises(ReportError, match="no runs selected"):
        rank_runs([])
    with pytest.raises(ReportError, match="unknown metric 'val_los'; did you mean 'val_loss'"):
        rank_runs(ablation_summaries(), metric="val_los")


def test_without_a_baseline_variant_the_earliest_run_is_the_baseline():
    runs = [summary("b", 6.9, 0.1, seed=2), summary("a", 7.0, 0.1, seed=1)]  # created = seed
    assert rank_runs(runs).baseline.label == "a"


def test_a_worse_variant_is_called_worse():
    ranking = rank_runs([summary("baseline", 7.0, 0.1), summary("bad", 7.5, 0.09, ["optim.muon_lr=0.5"])])
    assert ranking.rows[1].verdict == WORSE and ranking.best is None


def test_a_config_this_version_cannot_read_is_flagged_and_has_no_key_changes():
    odd = summary("old", 6.0, 0.2, ["model.dropout=0.05"])
    odd.config["model"]["retired_knob"] = 1
    ranking = rank_runs([summary("baseline", 7.0, 0.1), odd])
    row = ranking.rows[0]
    assert row.key_changes == [] and not row.fair and ranking.best is None
    assert row.flags[0].startswith("config unreadable (model.retired_knob")


def test_the_baseline_name_matches_a_run_name_or_id_and_ignores_case():
    assert rank_runs(ablation_summaries(), baseline="ablation-grad_accum_2-s42").baseline.label == "grad_accum_2"
    assert rank_runs(ablation_summaries(), baseline="Grad_Accum_2").baseline.label == "grad_accum_2"
