"""The one config schema: TOML in and out, overrides, validation messages, derived values."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.config import (Config, ConfigError, config_diff, field_spec, iter_fields, parse_text, parse_toml)
from engine_helpers import QUICK, ROOT


def test_toml_round_trip_keeps_every_value():
    cfg = Config().apply_overrides(["model.d_model=512", "moe.router_noise_std=0.1", "model.recursive=true",
                                    "data.source=hf:HuggingFaceTB/smollm-corpus", "schedule.decay=linear"])
    assert Config.from_toml(cfg.to_toml()) == cfg
    assert Config.from_toml(cfg.to_toml()).to_dict() == cfg.to_dict()


def test_every_field_carries_help_and_numeric_fields_carry_bounds():
    specs = list(iter_fields())
    assert {s.section for s in specs} == {"model", "moe", "optim", "schedule", "train", "data", "eval"}
    for s in specs:
        assert s.help, s.key
        if s.type in (int, float):
            assert s.min is not None and s.max is not None, s.key
        assert isinstance(s.default, s.type), s.key


def test_the_schema_has_every_knob_of_the_seed_studies():
    keys = {s.key for s in iter_fields()}
    for key in ["model.d_model", "model.n_heads", "model.n_layers", "model.d_ff", "model.max_seq_len",
                "model.dropout", "moe.num_experts", "moe.top_k", "moe.load_balancing_weight", "moe.expert_d_ff",
                "train.batch_size", "train.gradient_accumulation_steps", "train.max_steps", "optim.optimizer",
                "optim.muon_lr", "optim.adamw_lr", "optim.momentum", "optim.weight_decay", "optim.grad_clip",
                "schedule.warmup_steps", "schedule.warmup_ratio", "schedule.decay", "schedule.min_lr_ratio",
                "eval.eval_every", "eval.eval_steps", "train.use_amp", "train.amp_dtype", "train.seed",
                "data.source", "data.num_documents", "data.max_tokens", "model.norm", "model.norm_position",
                "model.pos_encoding", "model.activation", "model.recursive", "model.h_cycles", "model.l_cycles",
                "train.compile", "model.tie_embeddings"]:
        assert key in keys, key


def test_overrides_parse_each_type_and_leave_the_original_alone():
    base = Config()
    cfg = base.apply_overrides(["train.max_steps=2e3", "optim.muon_lr=0.08", "train.compile=yes",
                                "model.norm='layernorm'"])
    assert (cfg.train.max_steps, cfg.optim.muon_lr, cfg.train.compile, cfg.model.norm) == (2000, 0.08, True, "layernorm")
    assert base.train.max_steps == 1000
    assert config_diff(base, cfg) == [("model.norm", "rmsnorm", "layernorm"), ("optim.muon_lr", 0.065, 0.08),
                                      ("train.max_steps", 1000, 2000), ("train.compile", False, True)]


@pytest.mark.parametrize("override, message", [
    ("model.d_modle=512", "model.d_modle: unknown key; did you mean 'model.d_model'?"),
    ("optim.d_model=512", "did you mean 'model.d_model'?"),
    ("train.max_steps=2.5", "train.max_steps = '2.5': expected int"),
    ("train.use_amp=maybe", "expected bool"),
    ("max_steps", "expected section.key=value"),
    ("model=1", "name a key inside the section"),
])
def test_a_bad_override_names_the_key_the_value_and_the_rule(override, message):
    with pytest.raises(ConfigError) as info:
        Config().apply_overrides([override])
    assert message in str(info.value)


@pytest.mark.parametrize("override, key, rule", [
    ("model.d_model=100", "model.n_heads", "must be divisible by n_heads"),
    ("moe.top_k=9", "moe.top_k", "must be <= moe.num_experts (8)"),
    ("model.norm=batchnorm", "model.norm", "must be one of rmsnorm, layernorm, none"),
    ("model.dropout=0.95", "model.dropout", "must be <= 0.9"),
    ("schedule.warmup_steps=10", "schedule.warmup_ratio", "not both"),
    ("optim.optimizer=adamw", "optim.adamw_lr", "explicit optim.adamw_lr"),
    ("optim.muon_lr=nan", "optim.muon_lr", "finite"),
    ("train.seed=3000000000", "train.seed", "must be <= 2147483647"),  # exact, not 2.14748e+09
])
def test_validation_names_field_value_and_rule(override, key, rule):
    with pytest.raises(ConfigError) as info:
        Config().apply_overrides([override], "my.toml").validate("my.toml")
    error = info.value
    assert error.key == key and rule in error.rule and str(error).startswith("my.toml: ")


def test_rope_needs_an_even_head_dimension():
    with pytest.raises(ConfigError, match="even head dimension"):
        Config().apply_overrides(["model.d_model=36", "model.n_heads=4"]).validate()
    Config().apply_overrides(["model.d_model=36", "model.n_heads=4", "model.pos_encoding=none"]).validate()


def test_unknown_sections_and_keys_in_toml_are_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown section; did you mean 'model'"):
        Config.from_toml("[modle]\nd_model = 64\n")
    with pytest.raises(ConfigError, match="did you mean 'train.batch_size'"):
        Config.from_toml("[train]\nbatch_sise = 4\n")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        Config.from_toml("[train\n")
    with pytest.raises(ConfigError, match="expected int"):
        Config.from_toml("[train]\nbatch_size = true\n")


def test_derived_values_follow_the_seed_rules():
    cfg = Config()
    assert cfg.adamw_lr == pytest.approx(0.0065)  # a tenth of Muon's
    assert cfg.expert_d_ff == cfg.model.d_ff
    assert cfg.warmup_steps == 100  # 10% of 1000 optimizer steps
    assert cfg.tokens_per_step == 24 * 4 * 512
    cfg = cfg.apply_overrides(["optim.adamw_lr=0.001", "moe.expert_d_ff=768", "schedule.warmup_ratio=0",
                               "schedule.warmup_steps=7"])
    assert (cfg.adamw_lr, cfg.expert_d_ff, cfg.warmup_steps) == (0.001, 768, 7)


def test_parse_text_reads_what_a_person_types_into_a_form():
    assert parse_text(field_spec("train.seed"), "1e3") == 1000
    assert parse_text(field_spec("train.seed"), str(10**30)) == 10**30  # exact, not float-rounded
    assert parse_text(field_spec("model.embed_scale"), "off") is False
    assert parse_text(field_spec("data.source"), '"embedded"') == "embedded"


@pytest.mark.parametrize("override, message", [
    ("train.max_steps=1e100", "train.max_steps = 1e100: must be <= 100000000"),  # not its 101 digits
    (f"train.seed={10**30}", f"train.seed = {10**30}: must be <= 2147483647"),
    ("model.dropout=1e100", "model.dropout = 1e100: must be <= 0.9"),  # not 1e+100
    ("train.max_steps=nan", "train.max_steps = nan: must be a finite number"),
    ("train.max_steps=-Infinity", "train.max_steps = -Infinity: must be a finite number"),
    ("optim.muon_lr=NaN", "optim.muon_lr = NaN: must be a finite number"),
    ("optim.muon_lr=1e400", "optim.muon_lr = 1e400: must be a finite number"),  # overflows to inf
])
def test_an_override_error_quotes_the_number_as_typed(override, message):
    with pytest.raises(ConfigError) as info:
        Config().apply_overrides([override], "--set")
    assert str(info.value) == f"--set: {message}"


def test_the_quick_preset_is_a_valid_small_config():
    table = parse_toml(QUICK.read_text(), str(QUICK))
    assert table.pop("description")
    cfg = Config.from_dict(table, str(QUICK)).validate()
    assert cfg.model.d_model <= 256 and cfg.train.max_steps == 200 and cfg.data.source == "embedded"


def test_config_protocol_and_rundir_import_without_torch():
    code = ("import sys, engine.config, engine.protocol, engine.rundir; "
            "bad = {'torch', 'textual', 'rich', 'typer'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
