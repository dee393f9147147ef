"""Run identity: runs are replicates only when their effective configs are equal but for the
seed; settings that cannot change the result are ignored, one setting spelled two ways is
one setting, and a seed run twice is a re-run, not a second seed."""

from __future__ import annotations

from engine.config import Config, iter_fields, set_value
from moetui.report.identity import changes, identity, short_id
from moetui.report.ranking import rank_runs
from tests.report_helpers import summary

# The schema's settings that cannot change the trained model or its score (beyond rounding:
# the GPU speed switches compute the same sums another way).
NOT_RESULTS = {"moe.grouped_gemm", "optim.muon_batched", "optim.fused_adamw", "train.ce_chunk_tokens",
               "train.prefetch", "train.compile", "train.checkpoint_every", "train.checkpoint_minutes",
               "train.log_every", "train.experts_every", "train.spike_factor", "train.spike_steps",
               "train.min_throughput_ratio", "train.throughput_minutes", "train.stall_after", "data.cache_dir",
               "eval.eval_every", "eval.sample_prompts", "eval.sample_tokens", "eval.sample_temperature"}


def _other(value, choices):
    if isinstance(value, bool):
        return not value
    if choices:
        return next(c for c in choices if c != value)
    if isinstance(value, str):
        return value + "-other"
    if isinstance(value, int):
        return value + 1
    return value * 0.5 if value else 0.5


def test_every_setting_but_the_marked_ones_and_the_seed_tells_runs_apart():
    assert {s.key for s in iter_fields() if not s.affects_results} == NOT_RESULTS
    for spec in iter_fields():
        changed = Config()
        set_value(changed, spec.key, _other(spec.default, spec.choices))
        same = identity(changed) == identity(Config())
        assert same == (spec.key in NOT_RESULTS or spec.key == "train.seed"), spec.key


def test_one_setting_spelled_two_ways_is_one_setting():
    ratio = Config().apply_overrides(["train.max_steps=10", "schedule.warmup_ratio=0.2"])
    steps = Config().apply_overrides(["train.max_steps=10", "schedule.warmup_ratio=0", "schedule.warmup_steps=2"])
    assert identity(ratio) == identity(steps) and changes(ratio, steps) == []
    derived = Config().apply_overrides(["optim.muon_lr=0.065"])
    given = Config().apply_overrides(["optim.muon_lr=0.065", "optim.adamw_lr=0.0065"])  # 0.065 / 10 in floats is not
    assert identity(derived) == identity(given)
    width = Config().apply_overrides(["moe.expert_d_ff=1536"])  # model.d_ff's 1536, written out
    assert identity(width) == identity(Config())
    shorter = Config().apply_overrides(["schedule.warmup_ratio=0.05"])
    assert changes(Config(), shorter) == [("schedule.warmup_steps", 100, 50)]  # in steps, whatever the spelling


def test_two_runs_of_one_preset_with_other_configs_never_merge():
    """The issue's case: one quick run at d_model 256 for 150 steps, one as is for 100, both
    seed 42. Two rows, each n=1, named as their runs are."""
    wide = summary("quick", 4.4, 0.3, ["model.d_model=256", "train.max_steps=150"], study=None)
    plain = summary("quick-2", 4.9, 0.3, ["train.max_steps=100"], study=None, created=50.0)
    ranking = rank_runs([wide, plain], wide.id)
    assert sorted((row.label, row.n) for row in ranking.rows) == [("quick", 1), ("quick-2", 1)]
    key_changes = next(row for row in ranking.rows if row.label == "quick-2").key_changes
    assert ("model.d_model", 256, 384) in key_changes


def test_seeds_of_one_config_pool_whatever_their_names_and_bookkeeping():
    runs = [summary("quick", 4.4, study=None, seed=1),
            summary("quick-2", 4.5, 0.1, ["train.log_every=10", "train.checkpoint_every=0", "eval.eval_every=5"],
                    study=None, seed=2)]
    ranking = rank_runs(runs, runs[0].id)
    assert [(row.label, row.n) for row in ranking.rows] == [("quick", 2)]
    assert [label for label, _ in ranking.curves()] == ["quick", "quick-2"]


def test_a_study_variant_and_an_adhoc_run_of_one_config_stay_apart():
    ranking = rank_runs([summary("baseline", 7.0), summary("baseline", 6.9, study=None, seed=7)], "s/baseline")
    assert sorted(row.label for row in ranking.rows) == ["baseline", "s/baseline"]


def test_a_seed_run_twice_is_a_re_run_and_the_latest_counts():
    first = summary("baseline", 7.3, created=1.0, run_id="20260101-100000-aaaa-base")
    again = summary("baseline", 7.0, created=2.0, run_id="20260101-110000-bbbb-base")
    other = summary("baseline", 7.1, seed=43, created=3.0)
    row = rank_runs([first, again, other], "baseline").rows[0]
    assert row.counted == [again, other] and row.left_out == {first.id: "re-run"}
    assert row.seeds_text == "n=2 of 3, 1 re-run" and row.flags == ["re-run of seed 42: the latest counts"]
    assert row.stats["val_loss"].mean == 7.05


def test_a_short_id_is_a_prefix_moetui_show_accepts():
    assert short_id("20261124-093012-ab12-quick-lr") == "20261124-093012-ab12"
    assert short_id("seed-run") == "seed-run"
