"""The TUI's pure logic, without an app: smoothing, downsampling, progress, table rows,
queue moves, expert balance, the form's rules and the compare view's differing keys."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from engine.config import Config
from moetui.history import RunHistory
from moetui.tui.chart_data import metric_series, step_ticks
from moetui.tui.compare_data import differing_keys
from moetui.tui.downsample import downsample
from moetui.tui.expert_balance import balance, bars
from moetui.tui.form_model import FormModel
from moetui.tui.progress import clock, eta_seconds, number
from moetui.runs import in_queue_order
from moetui.tui.queue_order import move
from moetui.tui.runs_rows import COLUMN_KEYS, MARK, run_row, shorten, visible_rows
from moetui.tui.smoothing import debiased_ema


def test_debiased_ema_starts_exact_and_follows_a_step():
    assert debiased_ema([5.0, 5.0, 5.0], 0.9) == pytest.approx([5.0, 5.0, 5.0])  # no pull towards zero
    smoothed = debiased_ema([0.0] * 50 + [1.0] * 50, 0.9)
    assert smoothed[49] == 0.0 and 0.0 < smoothed[50] < 0.2 and smoothed[-1] > 0.99
    assert debiased_ema([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]


def test_debiased_ema_passes_nan_through_without_poisoning():
    out = debiased_ema([1.0, float("nan"), 1.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        debiased_ema([1.0], 1.0)


def test_downsample_keeps_spikes_the_ends_and_a_budget():
    xs = list(range(10_000))
    ys = [1.0] * 10_000
    ys[4321] = 50.0
    dx, dy = downsample(xs, ys, 200)
    assert len(dx) <= 200 and dx == sorted(dx)
    assert 50.0 in dy and dx[-1] == 9_999
    assert downsample([1, 2], [3.0, 4.0], 10) == ([1, 2], [3.0, 4.0])


def test_eta_and_clock():
    assert eta_seconds(50, 200, 10.0) == pytest.approx(30.0)
    assert eta_seconds(150, 200, 10.0, first_step=100) == pytest.approx(10.0)  # resumed at 100
    assert eta_seconds(0, 200, 0.0) is None and eta_seconds(10, None, 5.0) is None
    assert (clock(None), clock(42.4), clock(187), clock(3723)) == ("–", "42s", "3:07", "1:02:03")
    assert (number(3.14159), number(212.43, 1), number(2.5e7), number(float("nan")), number(None)) == ("3.1416", "212.4", "2.5e+07", "–", "–")


def _record(run_id, name, status="completed", **extra):
    fields = dict(id=run_id, name=name, study=None, variant=None, preset="quick", status=status,
                  created=0.0, queue_order=None, device=None, gpu=None, exit_reason=None, notes=None, tags=[])
    fields.update(extra)
    return SimpleNamespace(**fields)


def _history(steps, loss, max_steps=100, elapsed_per_step=0.5):
    history = RunHistory()
    history.add({"type": "start", "step": 0, "max_steps": max_steps})
    for step, value in zip(steps, loss):
        history.add({"type": "step", "step": step, "loss": value, "tokens_per_s": 12345.0,
                     "elapsed": step * elapsed_per_step, "tokens": step * 100})
    history.add({"type": "eval", "step": steps[-1], "val_loss": loss[-1] + 0.1, "val_perplexity": 30.0})
    return history


def test_run_row_shows_progress_metrics_and_eta_for_a_running_run():
    row = run_row(_record("a", "alpha", "running", study="abl", variant="topk"), _history([10, 20], [5.0, 4.0]), True)
    cells = dict(zip(COLUMN_KEYS, row.cells))
    assert cells["mark"] == MARK and cells["group"] == "abl/topk" and cells["step"] == "20/100"
    assert (cells["loss"], cells["val_loss"], cells["ppl"], cells["tps"]) == ("4", "4.1", "30", "12.3k")
    assert (cells["elapsed"], cells["eta"]) == ("10s", "40s")
    finished = run_row(_record("b", "beta"), _history([10, 20], [5.0, 4.0]), False)
    assert dict(zip(COLUMN_KEYS, finished.cells))["eta"] == "–"


def test_visible_rows_filter_by_words_and_sort_missing_last():
    rows = [run_row(_record("a", "alpha"), _history([10], [3.0]), False),
            run_row(_record("b", "beta", "failed"), _history([10], [2.0]), False),
            run_row(_record("c", "gamma", "queued"), RunHistory(), False)]
    assert [r.id for r in visible_rows(rows, "FAIL")] == ["b"]
    assert [r.id for r in visible_rows(rows, "a quick")] == ["a", "b", "c"]
    assert [r.id for r in visible_rows(rows, "", "loss")] == ["b", "a", "c"]
    assert [r.id for r in visible_rows(rows, "", "loss", reverse=True)] == ["a", "b", "c"]


def test_queue_moves_renumber_only_what_changes():
    queue = in_queue_order([_record("a", "a", "queued", queue_order=2), _record("b", "b", "queued", queue_order=1),
                     _record("r", "r", "running"), _record("c", "c", "queued", queue_order=None)])
    assert [r.id for r in queue] == ["b", "a", "c"]
    assert move(queue, "c", -1) == {"b": 0, "c": 1}  # a keeps its order 2
    assert move(queue, "b", -1) == {"b": 0, "a": 1, "c": 2}  # clamped at the top; orders made distinct


def test_expert_balance_sees_collapse():
    assert balance([0.25] * 4) == pytest.approx(1.0)
    assert balance([0.97, 0.01, 0.01, 0.01]) < 0.2
    assert bars([1.0, 0.0]) == "█▁" and bars([0.5, 0.5]) == "▅▅"  # fair share: half height


def test_form_model_marks_field_rules_cross_rules_and_changes():
    form = FormModel(Config())
    assert form.set("model.d_model", "abc") == "expected int"
    assert form.set("moe.top_k", "3") is None
    assert form.problems() == {"model.d_model": "expected int"}
    assert form.set("model.d_model", "384") is None
    assert form.set("moe.num_experts", "2") is None
    assert form.problems() == {"moe.top_k": "must be <= moe.num_experts (2)"}
    assert form.set("train.max_steps", "0") == "must be >= 1"
    assert form.set("model.norm", "layernorm") is None and form.set("train.compile", True) is None
    assert [key for key, _, _ in form.changes()] == ["model.norm", "moe.num_experts", "moe.top_k", "train.compile"]


def test_form_edits_show_what_was_typed_in_an_invalid_field_not_its_last_good_value():
    base = Config()
    form = FormModel(base)
    form.set("model.d_model", "1024")
    form.set("model.d_model", "1024x")
    assert form.config().model.d_model == 1024  # what a launch would take, were it allowed
    assert form.edits() == [("model.d_model", base.model.d_model, "1024x", "expected int")]
    form.set("model.d_model", str(base.model.d_model))
    form.set("moe.top_k", str(base.moe.num_experts + 1))  # breaks a cross-field rule, not its own
    assert form.edits() == [("moe.top_k", base.moe.top_k, base.moe.num_experts + 1,
                             f"must be <= moe.num_experts ({base.moe.num_experts})")]
    form.set("moe.top_k", str(base.moe.top_k))
    assert form.edits() == []


def test_step_ticks_are_whole_round_numbers_within_the_range():
    assert step_ticks(1, 40) == [10, 20, 30, 40]
    assert step_ticks(1, 5) == [1, 2, 3, 4, 5]
    assert step_ticks(3, 3) == [3]
    assert step_ticks(0, 10_000) == [0, 5000, 10_000]
    assert step_ticks(1, 7) == [2, 4, 6]
    assert step_ticks(120, 1000) == [200, 400, 600, 800, 1000]


def test_differing_keys_lists_only_what_differs_in_schema_order():
    a, b, c = Config(), Config(), Config()
    b.train.seed, c.moe.top_k, c.train.seed = 7, 1, 7
    assert differing_keys([a, b, c]) == [("moe.top_k", [2, 2, 1]), ("train.seed", [42, 7, 7])]
    assert differing_keys([a, None]) == []


def test_smoothed_series_come_with_their_raw_values():
    history = _history([1, 2, 3], [3.0, 2.0, 1.0])
    raw, smooth = metric_series(history, "loss", "train", (1, 2, 3), 0.5)
    assert raw.ys == [3.0, 2.0, 1.0] and smooth.ys[0] == 3.0 and smooth.ys[-1] > 1.0 and smooth.label == "train"
    (val,) = metric_series(history, "val_loss", "val", (1, 2, 3), 0.5)  # evals are never smoothed
    assert val.ys == [1.1] and val.xs == [3]


def test_a_saved_preset_holds_what_differs_from_the_defaults_and_loads_back():
    from moetui.tui.launching import parse_seeds, preset_toml

    config = Config()
    config.moe.top_k, config.train.max_steps = 1, 50
    text = preset_toml(config, "from the form")
    assert text.startswith('description = "from the form"') and "[moe]\ntop_k = 1" in text
    import tomllib

    data = tomllib.loads(text)
    data.pop("description")
    assert Config.from_dict(data) == config
    assert parse_seeds("1, 2 3") == [1, 2, 3]
    with pytest.raises(ValueError, match="whole numbers"):
        parse_seeds("1, two")


def test_a_long_run_name_is_cut_in_the_middle_so_study_and_seed_stay_readable():
    assert shorten("quick", 16) == "quick"
    cut = shorten("lr-schedule-cosine_warmup_05-s42", 20)
    assert len(cut) == 20 and cut.startswith("lr-schedul") and cut.endswith("-s42") and "…" in cut
