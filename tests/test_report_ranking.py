"""The ranking's arithmetic and verdicts: seed figures reproduced, noise tested with Welch's
t-test (scipy's), only sound runs in the statistics, compute judged on what was spent."""

from __future__ import annotations

import pytest
from scipy.stats import ttest_ind

from moetui.report import cells
from moetui.report.ranking import BETTER, NOISE, NOT_COUNTED, SINGLE, WORSE, ReportError, rank_runs
from moetui.report.stats import Stat, improvement, summarize, welch_p
from moetui.tui.compare_data import live_step
from tests.report_helpers import summary


def _seeds(variant, losses, overrides=(), **kw):
    return [summary(variant, loss, 0.1, list(overrides), seed=seed, **kw) for seed, loss in enumerate(losses, 1)]


def _rows(ranking):
    return {row.label: row for row in ranking.rows}


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


def test_mean_and_std_over_seeds_ignore_missing_values():
    s = summarize([1.0, 2.0, 3.0, None, float("nan")])
    assert (s.mean, s.std, s.n) == (2.0, 1.0, 3)
    assert summarize([None]) is None and summarize([4.0]) == Stat(4.0, None, 1)


def test_welch_p_values_are_scipys_ttest_ind_with_unequal_variances():
    base, variant = [7.00, 7.10, 6.90], [6.50, 6.56, 6.44, 6.52]
    expected = ttest_ind(variant, base, equal_var=False).pvalue
    assert welch_p(base, variant) == pytest.approx(expected, rel=1e-12)
    assert ttest_ind(variant, base).pvalue != pytest.approx(expected)  # the pooled test would differ
    ranking = rank_runs(_seeds("baseline", base) + _seeds("real", variant, ["model.dropout=0.0"]), "baseline")
    assert _rows(ranking)["real"].p_value == pytest.approx(expected, rel=1e-12)
    assert welch_p([7.0], [6.0, 6.1]) is None and welch_p([7.0, 7.0], [7.0, 7.0]) is None


def test_a_gain_with_p_013_over_three_seeds_is_within_noise_until_alpha_allows_it():
    """The old rule called this "better": the means differ by more than one standard deviation
    (0.15 against 0.1), yet a t-test gives p = 0.14."""
    runs = _seeds("baseline", [7.00, 7.10, 6.90]) + _seeds("lucky", [6.85, 6.95, 6.75], ["model.dropout=0.05"])
    lucky = _rows(rank_runs(runs, "baseline"))["lucky"]
    assert lucky.verdict == NOISE and 0.1 < lucky.p_value < 0.2
    assert rank_runs(runs, "baseline").best is None
    loose = rank_runs(runs, "baseline", alpha=0.2)
    assert _rows(loose)["lucky"].verdict == BETTER and loose.best.label == "lucky"
    with pytest.raises(ReportError, match="between 0 and 1"):
        rank_runs(runs, "baseline", alpha=5)


def test_a_clear_gain_over_three_seeds_is_better_with_its_p_and_the_seed_is_no_key_change():
    runs = _seeds("baseline", [7.00, 7.10, 6.90]) + _seeds("real", [6.50, 6.55, 6.45], ["model.dropout=0.0"])
    ranking = rank_runs(runs, "baseline")
    real = _rows(ranking)["real"]
    assert real.verdict == BETTER and real.p_value < 0.01 and ranking.best is real
    assert real.key_changes == [("model.dropout", 0.1, 0.0)]
    cell = dict(zip(cells.ranking_headers(ranking), cells.ranking_cells(ranking)[0]))
    assert cell["Val loss"] == "6.5000 ± 0.0500" and cell["Seeds"] == "n=3" and cell["p"] == "0.0048"
    worse = _seeds("bad", [7.50, 7.55, 7.45], ["optim.muon_lr=0.5"])
    assert _rows(rank_runs(runs + worse, "baseline"))["bad"].verdict == WORSE


def test_one_seed_on_either_side_gives_no_verdict_but_the_leader_is_still_named_best():
    runs = [summary("baseline", 7.0)] + _seeds("three", [6.5, 6.55, 6.45], ["model.dropout=0.0"])
    ranking = rank_runs(runs, "baseline")
    row = _rows(ranking)["three"]
    assert row.verdict == SINGLE and row.p_value is None
    assert ranking.best is row  # named, with the caveat its verdict carries


def test_a_crashed_seed_is_left_out_of_the_statistics_and_counted_in_the_cell():
    """Seed 2 crashed early at a loss that would have sunk the mean; the baseline's crashed
    seed would have flattered the variant. Both are listed, neither is averaged."""
    base = _seeds("baseline", [7.00, 7.10, 6.90, 9.5])
    base[3].status = "crashed"
    variant = _seeds("real", [6.50, 8.90, 6.55, 6.45], ["model.dropout=0.0"])
    variant[1].status = "crashed"
    ranking = rank_runs(base + variant, "baseline")
    real = _rows(ranking)["real"]
    assert real.n == 3 and real.stats["val_loss"].mean == pytest.approx(6.5)
    assert ranking.baseline.stats["val_loss"].mean == pytest.approx(7.0)
    assert real.seeds_text == "n=3 of 4, 1 crashed" and real.verdict == BETTER
    assert real.p_value == pytest.approx(ttest_ind([6.50, 6.55, 6.45], [7.00, 7.10, 6.90], equal_var=False).pvalue)
    assert real.status == "3 completed, 1 crashed"


def test_a_diverged_run_is_listed_ranked_after_completed_ones_and_never_better():
    runs = [summary("baseline", 7.0), summary("fine", 6.9, 0.11, ["model.dropout=0.05"]),
            summary("blew_up", 5.0, 0.3, ["optim.muon_lr=0.5"], status="diverged")]
    ranking = rank_runs(runs, "baseline")
    assert [row.label for row in ranking.rows] == ["fine", "baseline", "blew_up"]
    blew_up = ranking.rows[2]
    assert blew_up.rank == 3 and blew_up.verdict == NOT_COUNTED and not blew_up.deltas
    assert blew_up.seeds_text == "n=0 of 1, 1 diverged" and ranking.best.label == "fine"


def test_a_run_that_reached_the_compared_step_counts_live_and_stopped_only_at_a_step():
    running = summary("live", 6.9, 0.1, ["model.dropout=0.05"], status="running", steps=10, reached=12)
    stopped = summary("cut", 6.8, 0.1, ["model.dropout=0.0"], status="stopped", steps=10, reached=10)
    base = summary("baseline", 7.0, steps=10)
    at_end = _rows(rank_runs([base, running, stopped], "baseline"))
    assert at_end["live"].verdict == NOT_COUNTED and at_end["live"].seeds_text == "n=0 of 1, 1 running"
    at_10 = _rows(rank_runs([base, running, stopped], "baseline", at_step=10))
    assert at_10["live"].verdict == SINGLE and at_10["cut"].verdict == SINGLE
    early = _rows(rank_runs([base, running], "baseline", at_step=15))
    assert early["live"].verdict == NOT_COUNTED  # it has not got to step 15 yet


def test_more_tokens_is_flagged_with_both_numbers_and_never_the_best():
    runs = [summary("baseline", 7.0), summary("longer", 6.0, 0.2, ["train.batch_size=48"]),
            summary("fine", 6.9, 0.11, ["model.dropout=0.05"])]
    ranking = rank_runs(runs, "baseline")
    longer = _rows(ranking)["longer"]
    assert longer.verdict == SINGLE and not longer.fair and ranking.best.label == "fine"
    assert longer.flags == ["more compute than the baseline: 1,966,080 vs 983,040 tokens, 3.57e14 vs 1.79e14 FLOPs"]


def test_other_optimizer_steps_over_the_same_tokens_are_the_same_compute():
    """Accumulation 2 for 40 steps sees what accumulation 4 sees in 20."""
    runs = [summary("baseline", 7.0), summary("accum_2", 6.8, 0.12, ["train.gradient_accumulation_steps=2"],
                                              steps=40)]
    row = _rows(rank_runs(runs, "baseline"))["accum_2"]
    assert row.flags == [] and row.fair and row.first.tokens == runs[0].tokens
    assert row.key_changes == [("train.gradient_accumulation_steps", 4, 2)]  # max_steps is 20 in both configs


def test_a_run_without_evals_is_listed_last_without_a_rank():
    runs = [summary("baseline", 7.0), summary("queued", None, overrides=["model.dropout=0.0"], status="queued")]
    runs[1].problem = "no eval yet"
    ranking = rank_runs(runs, "baseline")
    assert [r.label for r in ranking.rows] == ["baseline", "queued"] and ranking.rows[1].rank is None
    assert ranking.rows[1].flags == ["no eval yet"] and ranking.rows[1].seeds_text == "n=0 of 1, 1 queued"


def test_a_named_baseline_and_a_wrong_name_gets_a_suggestion():
    runs = [summary("baseline", 7.0), summary("grad_accum_2", 6.9, 0.1, ["train.gradient_accumulation_steps=2"]),
            summary("combo", 6.8, 0.1, ["train.gradient_accumulation_steps=2", "model.dropout=0.05"])]
    ranking = rank_runs(runs, "grad_accum_2")
    assert ranking.baseline.label == "grad_accum_2" and ranking.rows[0].key_changes == [("model.dropout", 0.1, 0.05)]
    assert rank_runs(runs, "GRAD_ACCUM_2").baseline.label == "grad_accum_2"
    assert rank_runs(runs, "s/grad_accum_2").baseline.label == "grad_accum_2"
    assert rank_runs(runs, "grad_accum_2-s42").baseline.label == "grad_accum_2"  # a run name
    with pytest.raises(ReportError, match="did you mean 'grad_accum_2'"):
        rank_runs(runs, "grad_acum_2")
    with pytest.raises(ReportError, match="no runs selected"):
        rank_runs([], "baseline")
    with pytest.raises(ReportError, match="unknown metric 'val_los'; did you mean 'val_loss'"):
        rank_runs(runs, "baseline", metric="val_los")


def test_accuracy_ranking_is_higher_is_better_in_percentage_points():
    runs = [summary("baseline", 7.2785, 0.1158), summary("best", 6.8076, 0.1425, ["model.dropout=0.05"])]
    ranking = rank_runs(runs, "baseline", metric="val_accuracy")
    assert ranking.rows[0].label == "best"
    assert cells.delta("val_accuracy", ranking.rows[0].deltas["val_accuracy"]) == "+23.1% (+2.67 pp)"


def test_a_config_this_version_cannot_read_is_flagged_never_counted_and_never_best():
    odd = summary("old", 6.0, 0.2, ["model.dropout=0.05"])
    odd.config["model"]["retired_knob"] = 1
    ranking = rank_runs([summary("baseline", 7.0), odd], "baseline")
    row = _rows(ranking)["old"]
    assert row.key_changes == [] and not row.fair and ranking.best is None and row.verdict == NOT_COUNTED
    assert row.flags[0].startswith("config unreadable (model.retired_knob")


def test_the_compare_view_ranks_live_runs_at_the_last_eval_they_all_reached():
    """While runs train, the view compares every run at the step the live ones share, where
    they count, rather than leave them out until they finish."""
    done = summary("baseline", 7.0, steps=20)
    live = [summary("a", 6.9, 0.1, ["model.dropout=0.0"], status="running", steps=10, reached=11),
            summary("b", 6.8, 0.1, ["model.dropout=0.05"], status="stalled", steps=15, reached=15),
            summary("c", None, 0.1, ["model.dropout=0.2"], status="running", reached=3)]
    assert live_step([done, *live]) == 10 and live_step([done]) is None
    rows = _rows(rank_runs([done, *live], "baseline", at_step=10))
    assert rows["a"].verdict == SINGLE and rows["b"].verdict == SINGLE and rows["c"].verdict == "no result"


def test_a_damaged_run_joins_its_study_variants_row_wherever_it_comes():
    damaged = summary("drop", None, seed=1, status="damaged")
    damaged.config, damaged.problem = None, "events.jsonl: Is a directory"
    runs = [damaged, summary("baseline", 7.0), summary("drop", 6.5, 0.1, ["model.dropout=0.0"], seed=2)]
    row = _rows(rank_runs(runs, "baseline"))["drop"]
    assert row.runs == [damaged, runs[2]] and row.seeds_text == "n=1 of 2, 1 damaged"
    assert row.flags == ["events.jsonl: Is a directory"]
