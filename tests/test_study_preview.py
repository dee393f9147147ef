"""What a study will do before it is queued: runs, overrides, the edits a variant undoes,
time measured on earlier runs of the same shape (else a labelled guess), a warning when
the study is already queued; the same lines from `moetui study S --dry-run`, which writes
nothing. And the form's size estimates: memory by its documented formula."""

from __future__ import annotations

import dataclasses

import pytest

from engine.sizing import size_of
from moetui import estimate, study_preview
from moetui.presets import load_study
from moetui.runs import RunStore
from tests.cli_helpers import moetui
from tests.tui_fixtures import finished_run, queued_run, quick_config


def _preview(store, edits=None, seeds=None, gpus=()):
    base = quick_config(**(edits or {}))
    records = store.list()
    return study_preview.preview(load_study("ablation"), "quick", base, {k: base.get(k) for k in edits or {}},
                                 seeds, records, estimate.measured_rates(records, store.root), list(gpus))


def test_a_variant_of_a_shape_that_ran_before_is_timed_on_it_and_a_new_shape_is_a_labelled_guess(runs_dir):
    store = RunStore(runs_dir)
    finished_run(store, "earlier", quick_config(), 4.4)  # 40 steps of 2,048 tokens in 40 s: 2,048 tokens/s
    found = {v.name: v for v in _preview(store).variants}
    assert found["baseline"].rate.measured_runs == 1 and found["baseline"].seconds == pytest.approx(200)  # 200 steps
    # 2 x the tokens per step, 10 steps: same shape (accumulation is not shape), so measured too
    assert found["grad_accum_2"].seconds == pytest.approx(20)
    twelve = found["combo_grad_experts"]  # 12 experts: a model never run here
    assert twelve.rate.guess and "a guess at an assumed 20 GFLOP/s on cpu" in twelve.rate.source
    text = "\n".join(study_preview.lines(_preview(store)))
    assert "combo_grad_experts  (1 x about" in text and "?)" in text  # the guessed time is marked
    assert "combo_grad_experts, ultimate_combo: a guess" in text
    assert "4 variants timed on earlier runs of their shape (4 runs)" in text


def test_the_preview_counts_runs_and_names_each_edit_a_variant_replaces(runs_dir):
    p = _preview(RunStore(runs_dir), {"model.dropout": 0.2, "optim.muon_lr": 0.03}, seeds=[1, 2, 3])
    assert p.run_count == 18 and p.seeds == [1, 2, 3]
    clobbered = {v.name: v.clobbered for v in p.variants}
    assert clobbered["baseline"] == []
    assert clobbered["combo_grad_dropout"] == [("model.dropout", 0.2, 0.05)]
    assert clobbered["ultimate_combo"] == [("model.dropout", 0.2, 0.05), ("optim.muon_lr", 0.03, 0.08)]
    text = study_preview.lines(p)
    assert text[0] == "study ablation on quick: 6 variants x 3 seeds (1, 2, 3) = 18 runs"
    assert "  ! replaces your edit optim.muon_lr=0.03 with 0.08" in text
    assert not any(line.startswith("warning") for line in text)


def test_a_study_with_runs_still_queued_is_warned_about(runs_dir):
    store = RunStore(runs_dir)
    queued_run(store, "waiting", quick_config(), 0)  # study "topk"
    assert _preview(store).already == {}
    store.create(quick_config(), name="ablation-baseline-s42", study="ablation", variant="baseline")
    warning = [line for line in study_preview.lines(_preview(store)) if line.startswith("warning")]
    assert warning == ["warning: study ablation already has runs in the queue (1 queued); queueing adds 6 more"]


def test_several_gpus_run_the_study_side_by_side(runs_dir):
    one, four = _preview(RunStore(runs_dir)), _preview(RunStore(runs_dir), gpus=["0", "1", "2", "3"])
    assert four.slots == 4 and four.seconds < one.seconds  # guessed at GPU speed, four at a time
    assert ", 4 at a time" in study_preview.lines(four)[1]


def test_dry_run_prints_the_preview_and_writes_nothing(tmp_path):
    store = tmp_path / "never-made"
    result = moetui("--runs-dir", str(store), "study", "ablation", "--base", "quick", "--seeds", "1,2",
                    "--set", "model.dropout=0.2", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("study ablation on quick: 6 variants x 2 seeds (1, 2) = 12 runs\n")
    assert "! replaces your edit model.dropout=0.2 with 0.05" in result.stdout
    assert "nothing was queued" in result.stderr
    assert not store.exists()


def test_memory_follows_its_formula():
    config = quick_config()
    total = size_of(config, config.data.vocab_size).total
    mem = estimate.memory(config, gpu=False)
    assert mem.weights == mem.grads == 4 * total
    embedding = config.data.vocab_size * config.model.d_model  # tied: AdamW's; the rest Muon's
    assert mem.optimizer == 8 * embedding + 4 * (total - embedding)
    adamw = estimate.memory(config.apply_overrides(["optim.optimizer=adamw"]), gpu=False)
    assert adamw.optimizer == 8 * total
    double = estimate.memory(config.apply_overrides([f"train.batch_size={2 * config.train.batch_size}"]), gpu=False)
    assert double.activations == 2 * mem.activations and double.weights == mem.weights
    half = estimate.memory(config.apply_overrides(["train.use_amp=true"]), gpu=True)  # 16-bit activations
    logits = 2 * 4 * config.train.batch_size * config.model.max_seq_len * config.data.vocab_size
    assert half.activations - logits == pytest.approx((mem.activations - logits) / 2, abs=1)
    assert dataclasses.replace(mem, activations=0).total == 8 * total + mem.optimizer
