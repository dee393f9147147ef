"""Presets and studies: every seed experiment exists with its exact hyperparameters, layering
works, mistakes in preset files are named with file and line, and an installed wheel finds
the same presets as the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.config import Config, config_diff
from moetui import presets
from moetui.presets import PresetError, load_preset, load_study, study_configs

REPO = Path(__file__).resolve().parent.parent
SEED_STUDIES = {
    "ablation": ["baseline", "grad_accum_2", "combo_grad_dropout", "combo_grad_lr", "combo_grad_experts",
                 "ultimate_combo"],
    "lr-schedule": ["baseline", "cosine_warmup_05", "cosine_no_warmup"],
    "reasoning": ["1_baseline", "2_recursive", "3_low_lr", "4_high_lr", "5_long_warmup", "6_no_warmup",
                  "7_small_model", "8_few_experts", "9_more_topk", "10_low_grad_clip", "11_high_grad_clip",
                  "12_recursive_vlow_lr", "13_vlow_lr", "14_no_dropout", "15_low_dropout"],
    "architecture": ["Baseline", "Deeper", "Wider", "MoreExperts", "Top3Experts", "LowDropout", "HighLR",
                     "SmallBatch", "LongSeq"],
    "components": ["baseline", "post_norm", "no_pos_emb", "no_norm", "silu_ffn"],
}


@pytest.fixture
def user_presets(tmp_path, monkeypatch):
    """A private user presets directory (where the TUI saves presets)."""
    folder = tmp_path / "user-presets"
    (folder / "studies").mkdir(parents=True)
    monkeypatch.setenv("MOETUI_PRESETS", str(folder))
    return folder


def configs_by_variant(study: str) -> dict[str, Config]:
    return {variant: config for variant, _, config in study_configs(load_study(study))}


@pytest.mark.parametrize("name", sorted(SEED_STUDIES))
def test_every_seed_study_loads_and_every_variant_validates(name):
    study = load_study(name)
    runs = study_configs(study)
    assert [variant for variant, _, _ in runs] == SEED_STUDIES[name]
    assert {seed for _, seed, _ in runs} == {42}
    for _, _, config in runs:
        config.validate()


def eval_points(c: Config) -> list[int]:
    """The optimizer steps the engine evaluates after (engine/train.py: every eval_every
    steps, and always at the last step)."""
    return [s for s in range(1, c.train.max_steps + 1) if s % c.eval.eval_every == 0 or s == c.train.max_steps]


@pytest.mark.parametrize("name", sorted(SEED_STUDIES))
def test_every_seed_study_variant_draws_a_curve_that_ends_on_the_reported_eval(name):
    """At least 5 evaluations a run (one a step in runs shorter than that), evenly spaced,
    the last at the final step: the figure the seed report gives."""
    for variant, _, c in study_configs(load_study(name)):
        points = eval_points(c)
        assert len(points) >= min(5, c.train.max_steps), (variant, points)
        assert c.train.max_steps % c.eval.eval_every == 0, (variant, c.eval.eval_every)  # no ragged last gap
        assert points[-1] == c.train.max_steps


def test_the_five_step_seed_baseline_evaluates_after_every_step():
    runs = configs_by_variant("ablation")
    assert eval_points(runs["baseline"]) == [1, 2, 3, 4, 5]
    assert eval_points(runs["combo_grad_dropout"]) == list(range(1, 11))
    assert eval_points(load_preset("baseline")[0]) == [1, 2, 3, 4, 5]


def test_every_preset_loads_and_is_listed_with_a_description():
    listed = presets.list_presets()
    assert {"quick", "baseline", "ablation-winner", "optimized", "reasoning-base", "architecture-base",
            "components-base"} <= set(listed)
    assert set(presets.list_studies()) >= set(SEED_STUDIES)
    for name, description in listed.items():
        assert description and not description.startswith("(broken")
        load_preset(name)


def test_baseline_is_the_blueberry_setup():
    c, meta = load_preset("baseline")
    m, e, o, s, t, d, ev = c.model, c.moe, c.optim, c.schedule, c.train, c.data, c.eval
    assert (m.d_model, m.n_heads, m.n_layers, m.d_ff, m.max_seq_len, m.dropout) == (384, 8, 6, 1536, 512, 0.1)
    assert (m.activation, m.embed_scale, m.norm, m.norm_position, m.pos_encoding) == ("silu", True, "rmsnorm", "pre", "rope")
    assert (e.num_experts, e.top_k, e.load_balancing_weight, e.router_noise_std) == (8, 2, 0.01, 0.1)
    assert (o.optimizer, o.muon_lr, c.adamw_lr, o.weight_decay, o.grad_clip) == ("muon_adamw", 0.065, pytest.approx(0.0065), 0.1, 1.0)
    assert (s.warmup_ratio, s.decay, s.min_lr_ratio, c.warmup_steps) == (0.0, "cosine", 0.1, 2)
    # The seed's max_steps=20 counted micro-batches: 5 optimizer steps at accumulation 4.
    assert (t.batch_size, t.gradient_accumulation_steps, t.max_steps, t.seed) == (24, 4, 5, 42)
    assert (t.use_amp, t.amp_dtype) == (True, "fp16")
    assert (d.source, d.hf_config, d.num_documents, d.max_chars, d.max_tokens, d.tokenizer) == (
        "hf:HuggingFaceTB/smollm-corpus", "cosmopedia-v2", 2000, 3000, 500_000, "HuggingFaceTB/SmolLM-135M")
    assert (ev.eval_every, ev.eval_steps) == (1, 100)  # every step: a curve; the seed's 100 batches
    assert "seed" in meta.description


def test_ablation_variants_change_exactly_what_seed_report_000_says():
    runs = configs_by_variant("ablation")
    base = load_preset("baseline")[0]
    changes = {name: {k: new for k, _, new in config_diff(base, c)} for name, c in runs.items()}
    floor = {"schedule.min_lr_ratio": 0.05}  # the seed code's floor, which the report does not state
    assert changes["baseline"] == floor
    accum_2 = {**floor, "train.gradient_accumulation_steps": 2, "train.max_steps": 10}
    assert changes["grad_accum_2"] == accum_2
    assert changes["combo_grad_dropout"] == {**accum_2, "model.dropout": 0.05}
    assert changes["combo_grad_lr"] == {**accum_2, "optim.muon_lr": 0.08}
    assert runs["combo_grad_lr"].adamw_lr == pytest.approx(0.008)  # AdamW follows Muon at a tenth
    assert changes["combo_grad_experts"] == {**accum_2, "moe.num_experts": 12}
    assert changes["ultimate_combo"] == {**accum_2, "model.dropout": 0.05, "optim.muon_lr": 0.08, "moe.num_experts": 12}


def sequences_seen(c) -> int:
    return c.train.max_steps * c.train.gradient_accumulation_steps * c.train.batch_size


def test_ablation_variants_see_the_seed_runs_20_micro_batches():
    """Seed report 000 gave every variant the same training time: 20 micro-batches of 24."""
    assert {name: sequences_seen(c) for name, c in configs_by_variant("ablation").items()} == dict.fromkeys(
        SEED_STUDIES["ablation"], 20 * 24)


def test_lr_schedule_runs_on_the_ablation_winner():
    runs = configs_by_variant("lr-schedule")
    winner = runs["baseline"]
    assert (winner.train.gradient_accumulation_steps, winner.model.dropout) == (2, 0.05)
    assert [runs[v].warmup_steps for v in SEED_STUDIES["lr-schedule"]] == [2, 1, 0]  # 20 // 10, 20 // 20, none
    assert {runs[v].schedule.min_lr_ratio for v in SEED_STUDIES["lr-schedule"]} == {0.05}  # the study's floor
    on_quick = {v: c for v, _, c in study_configs(load_study("lr-schedule"), base="quick")}
    assert [on_quick[v].warmup_steps for v in SEED_STUDIES["lr-schedule"]] == [40, 20, 0]  # the same shares of 200
    optimized = load_preset("optimized")[0]
    assert (optimized.warmup_steps, optimized.schedule.min_lr_ratio) == (1, 0.05)


def test_reasoning_study_matches_seed_report_002():
    runs = configs_by_variant("reasoning")
    base = runs["1_baseline"]
    assert base.data.max_chars == 3000  # the seed's data/loader.py: item["text"][:3000]
    assert (base.data.num_documents, base.eval.eval_steps) == (70_000, 10)
    assert (base.model.d_model, base.model.n_layers, base.moe.num_experts, base.moe.top_k) == (512, 8, 4, 2)
    assert (base.optim.optimizer, base.optim.adamw_lr, base.train.max_steps, base.warmup_steps) == ("adamw", 3e-4, 100, 20)
    assert (base.model.dropout, base.optim.grad_clip) == (0.1, 1.0)
    assert runs["4_high_lr"].optim.adamw_lr == 6e-4
    assert runs["3_low_lr"].optim.adamw_lr == 1e-4 and runs["13_vlow_lr"].optim.adamw_lr == 5e-5
    assert runs["5_long_warmup"].warmup_steps == 50 and runs["6_no_warmup"].warmup_steps == 0
    assert (runs["7_small_model"].model.d_model, runs["7_small_model"].model.n_layers) == (256, 4)
    assert runs["9_more_topk"].moe.top_k == 4
    assert (runs["10_low_grad_clip"].optim.grad_clip, runs["11_high_grad_clip"].optim.grad_clip) == (0.5, 5.0)
    for name in ("2_recursive", "12_recursive_vlow_lr"):
        m = runs[name].model
        assert (m.recursive, m.h_cycles, m.l_cycles) == (True, 2, 2)
    assert (runs["14_no_dropout"].model.dropout, runs["15_low_dropout"].model.dropout) == (0.0, 0.05)


def test_architecture_study_matches_seed_report_003():
    runs = configs_by_variant("architecture")
    b = runs["Baseline"]
    assert (b.model.d_model, b.model.n_layers, b.model.n_heads, b.model.max_seq_len) == (512, 8, 16, 256)
    assert (b.moe.num_experts, b.moe.top_k, b.train.batch_size, b.train.max_steps, b.optim.muon_lr) == (16, 2, 16, 150, 0.01)
    assert sequences_seen(b) == 300 * 16  # the seed's 300 micro-batches of 16
    assert runs["Deeper"].model.n_layers == 12
    assert (runs["Wider"].model.d_model, runs["Wider"].model.n_heads) == (640, 20)
    assert runs["MoreExperts"].moe.num_experts == 24 and runs["Top3Experts"].moe.top_k == 3
    assert runs["LowDropout"].model.dropout == 0.05 and runs["HighLR"].optim.muon_lr == 0.015
    small = runs["SmallBatch"].train
    assert (small.batch_size, small.gradient_accumulation_steps, small.max_steps) == (8, 4, 75)
    assert sequences_seen(runs["SmallBatch"]) == 300 * 8
    assert runs["LongSeq"].model.max_seq_len == 384
    assert (b.eval.eval_every, b.eval.eval_steps, b.schedule.min_lr_ratio) == (30, 25, 0.1)


def test_small_batch_warms_up_as_long_as_the_other_architecture_variants():
    """The seed's warmup was 300 // 20 = 15 scheduler steps, one per optimizer step, for every
    variant: SmallBatch halves the optimizer steps, not the warmup (a ratio would give 8)."""
    runs = configs_by_variant("architecture")
    assert {name: c.warmup_steps for name, c in runs.items()} == dict.fromkeys(SEED_STUDIES["architecture"], 15)
    assert runs["SmallBatch"].train.max_steps == runs["Baseline"].train.max_steps // 2 == 75
    small = runs["SmallBatch"]
    assert eval_points(small) == [15, 30, 45, 60, 75]  # the Baseline's 60, 120, ... micro-batches
    assert [s * small.train.gradient_accumulation_steps for s in eval_points(small)] == [
        s * runs["Baseline"].train.gradient_accumulation_steps for s in eval_points(runs["Baseline"])]


def test_the_ablation_study_and_the_presets_from_its_winner_decay_to_the_seed_codes_5_percent_floor():
    """Report 000's branch ran training/trainer.py with "0.05 + 0.95 * ..." ("5% min LR (was
    0.1 + 0.9)"); the baseline preset keeps BLUEBERRY.md's 10%, which other studies inherit."""
    for study in ("ablation", "lr-schedule"):
        assert {c.schedule.min_lr_ratio for c in configs_by_variant(study).values()} == {0.05}, study
    for preset in ("ablation-winner", "optimized"):
        assert load_preset(preset)[0].schedule.min_lr_ratio == 0.05, preset
    assert load_preset("baseline")[0].schedule.min_lr_ratio == 0.1
    assert {c.schedule.min_lr_ratio for c in configs_by_variant("architecture").values()} == {0.1}
    winner = configs_by_variant("ablation")["combo_grad_dropout"]
    assert config_diff(winner, load_preset("ablation-winner")[0]) == []  # the next study starts from it exactly


def test_components_study_ablates_one_component_each():
    runs = configs_by_variant("components")
    b = runs["baseline"]
    assert (b.model.d_model, b.model.n_layers, b.model.n_heads, b.model.max_seq_len) == (512, 4, 16, 256)
    assert (b.moe.num_experts, b.train.batch_size, b.optim.optimizer, b.optim.adamw_lr) == (1, 32, "adamw", 3e-4)
    assert (b.model.norm_position, b.model.norm, b.model.activation, b.model.pos_encoding) == ("pre", "rmsnorm", "swiglu", "rope")
    assert b.data.source == "hf:roneneldan/TinyStories"
    assert runs["post_norm"].model.norm_position == "post"
    assert runs["no_pos_emb"].model.pos_encoding == "none"
    assert runs["no_norm"].model.norm == "none"
    assert runs["silu_ffn"].model.activation == "silu"


@pytest.mark.parametrize("name", sorted(SEED_STUDIES))
def test_every_seed_study_runs_on_the_quick_base(name):
    """`--base quick` is how a study is tried on a CPU: every variant must still validate there."""
    for _, _, cfg in study_configs(load_study(name), base="quick"):
        cfg.validate()


def test_study_runs_every_variant_once_per_seed_on_another_base():
    runs = study_configs(load_study("ablation"), base="quick", seeds=[1, 2])
    assert [(v, s) for v, s, _ in runs][:2] == [("baseline", 1), ("grad_accum_2", 1)]
    assert len(runs) == 12 and {s for _, s, _ in runs} == {1, 2}
    assert all(c.model.d_model == 128 and c.train.seed == s for _, s, c in runs)  # quick's width, each seed set


def test_extends_layers_a_preset_on_another(user_presets):
    (user_presets / "mine.toml").write_text(
        'description = "quick, wider"\nextends = "quick"\n[model]\nd_model = 256\n')
    config, meta = load_preset("mine")
    quick = load_preset("quick")[0]
    assert config.model.d_model == 256 and config.model.n_layers == quick.model.n_layers
    assert meta.extends == ("quick",) and meta.description == "quick, wider"


def test_an_extends_cycle_is_named(user_presets):
    (user_presets / "a.toml").write_text('extends = "b"\n')
    (user_presets / "b.toml").write_text('extends = "a"\n')
    with pytest.raises(PresetError, match="a -> b -> a"):
        load_preset("a")


def test_an_unknown_preset_suggests_close_names():
    with pytest.raises(PresetError, match="unknown preset 'quik'.*did you mean 'quick'"):
        load_preset("quik")
    with pytest.raises(PresetError, match="unknown study 'ablaton'.*'ablation'"):
        load_study("ablaton")


def test_a_toml_syntax_error_names_the_file_and_line(user_presets):
    (user_presets / "broken.toml").write_text('description = "x"\n[model]\nd_model = = 3\n')
    with pytest.raises(PresetError, match=r"broken\.toml.*line 3"):
        load_preset("broken")
    assert presets.list_presets()["broken"].startswith("(broken")  # listing still works


def test_a_file_that_is_not_utf8_is_named_and_the_listing_survives_it(user_presets):
    """The TUI's launch list and `moetui presets` read every description."""
    (user_presets / "latin1.toml").write_bytes(b'description = "caf\xe9"\n')
    with pytest.raises(PresetError, match=r"latin1\.toml: not UTF-8 text \(byte 0xe9 at offset 18\)"):
        load_preset("latin1")
    listed = presets.list_presets()
    assert listed["latin1"].startswith("(broken") and listed["quick"]


def test_a_study_names_its_file_when_its_base_or_a_variant_name_is_wrong(user_presets):
    (user_presets / "studies" / "orphan.toml").write_text('base = "gone"\n[[variant]]\nname = "a"\n')
    with pytest.raises(PresetError, match=r"studies/orphan\.toml: base: unknown preset 'gone'"):
        load_study("orphan")
    (user_presets / "studies" / "lines.toml").write_text('base = "quick"\n[[variant]]\nname = "a\\nb"\n')
    with pytest.raises(PresetError, match=r"studies/lines\.toml: variant name 'a\\nb' holds a control character"):
        load_study("lines")


def test_a_bad_key_in_a_preset_names_the_file_and_the_close_key(user_presets):
    (user_presets / "typo.toml").write_text('[model]\nd_modle = 3\n')
    with pytest.raises(PresetError, match=r"typo\.toml.*model\.d_modle.*did you mean 'model\.d_model'"):
        load_preset("typo")


def test_a_bad_variant_names_the_study_and_variant(user_presets):
    (user_presets / "studies" / "bad.toml").write_text(
        'base = "quick"\n[[variant]]\nname = "ok"\n[[variant]]\nname = "huge"\noverrides = ["moe.top_k=9"]\n')
    with pytest.raises(PresetError, match="study bad, variant huge.*moe.top_k"):
        study_configs(load_study("bad"))
    (user_presets / "studies" / "typo.toml").write_text('base = "quick"\n[[variant]]\nname = "a"\noverride = []\n')
    with pytest.raises(PresetError, match="unknown key 'override'.*'overrides'"):
        load_study("typo")


def test_a_user_preset_shadows_a_builtin_one(user_presets):
    (user_presets / "quick.toml").write_text('description = "my quick"\n[train]\nmax_steps = 7\n')
    assert presets.list_presets()["quick"] == "my quick"
    assert load_preset("quick")[0].train.max_steps == 7


def test_an_installed_wheel_finds_the_presets(tmp_path):
    """The wheel carries presets/ as moetui/_presets; a plain install reads them from there."""
    source = tmp_path / "source"  # built from a copy: setuptools leaves build/ and egg-info behind
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, source)
    for name in ("moetui", "engine", "presets"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("moetui-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    probe = ("from moetui import presets; print(presets.builtin_presets_dir()); "
             "print(sorted(presets.list_studies())); print(presets.load_preset('baseline')[0].model.d_model)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin",
                              "MOETUI_PRESETS": str(tmp_path / "none")}).stdout.splitlines()
    assert out[0] == str(tmp_path / "site" / "moetui" / "_presets")
    assert out[1] == str(sorted(SEED_STUDIES)) and out[2] == "384"
