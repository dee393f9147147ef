"""The one config schema: every hyperparameter of a run, with its help, unit and bounds.

Pure Python on purpose (no torch): the TUI form, the CLI help, validation, the report's
"key changes" column and the engine all read this one dataclass tree, so nothing about
a knob is written twice. Field metadata carries help/unit/min/max/choices; `iter_fields`
exposes it to generated UIs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import tomli_w


class ConfigError(ValueError):
    """A user-fixable config problem: names the field, the bad value and the rule."""

    def __init__(self, key: str, value: Any, rule: str, where: str = "", typed: str | None = None) -> None:
        """`typed`: the value as a person typed it, shown instead of the parsed one -- the range
        error of `max_steps=1e100` must quote 1e100, not the 101-digit integer it parses to."""
        self.key, self.value, self.rule, self.where = key, value, rule, where
        prefix = f"{where}: " if where else ""
        shown = "" if value is _MISSING else f" = {typed if typed is not None else repr(value)}"
        super().__init__(f"{prefix}{key}{shown}: {rule}")


_MISSING = object()


def knob(default: Any, help: str, unit: str = "", min: float | None = None,
         max: float | None = None, choices: tuple[str, ...] | None = None, affects_results: bool = True) -> Any:
    """A schema field: the default plus what a form, a help page or a validator needs.
    `affects_results=False` marks a setting that cannot change the trained model or its
    evaluation (logging, checkpoint cadence, guards, speed switches with the same losses):
    the report treats runs that differ only there as replicates of one variant."""
    meta = {"help": help, "unit": unit, "min": min, "max": max, "choices": choices,
            "affects_results": affects_results}
    return field(default=default, metadata=meta)


@dataclass
class ModelConfig:
    d_model: int = knob(384, "Width of the residual stream", "dims", 8, 16384)
    n_heads: int = knob(8, "Attention heads; d_model must divide evenly", "heads", 1, 256)
    n_layers: int = knob(6, "Transformer blocks", "layers", 1, 256)
    d_ff: int = knob(1536, "Hidden size of the feed-forward / expert MLP", "dims", 1, 131072)
    max_seq_len: int = knob(512, "Tokens per training sequence (context length)", "tokens", 8, 131072)
    dropout: float = knob(0.1, "Dropout on embeddings, attention, residual branches and experts", "", 0.0, 0.9)
    norm: str = knob("rmsnorm", "Normalisation layer", choices=("rmsnorm", "layernorm", "none"))
    norm_position: str = knob("pre", "Normalise the branch input (pre) or the sum after it (post)",
                              choices=("pre", "post"))
    pos_encoding: str = knob("rope", "Position encoding of queries and keys", choices=("rope", "none"))
    rope_base: float = knob(10000.0, "RoPE frequency base", "", 1.0, 1e9)
    activation: str = knob("swiglu", "FFN / expert activation (swiglu is gated)",
                           choices=("swiglu", "silu", "gelu"))
    embed_scale: bool = knob(True, "Multiply token embeddings by sqrt(d_model), as the seed project did")
    tie_embeddings: bool = knob(True, "The output head reuses the token embedding; false = a head matrix of its own "
                                "(vocab x d_model more weights, as in seed report 004's model)")
    init_std: float = knob(0.02, "Std of the normal init of every weight matrix", "", 1e-5, 1.0)
    recursive: bool = knob(False, "Re-apply the layer stack (h_cycles x l_cycles passes), as in the reasoning study")
    h_cycles: int = knob(2, "Recursive mode: outer (high-level) cycles; the input embedding is re-injected each one", "cycles", 1, 16)
    l_cycles: int = knob(2, "Recursive mode: inner (low-level) passes of the layer stack per outer cycle", "cycles", 1, 16)


@dataclass
class MoEConfig:
    num_experts: int = knob(8, "Experts per MoE layer; 1 = a dense FFN", "experts", 1, 512)
    top_k: int = knob(2, "Experts each token is routed to", "experts", 1, 64)
    load_balancing_weight: float = knob(0.01, "Weight of the Switch load-balancing auxiliary loss", "", 0.0, 10.0)
    expert_d_ff: int = knob(0, "Expert hidden size; 0 = model.d_ff", "dims", 0, 131072)
    router_noise_std: float = knob(0.0, "Gaussian noise added to router logits in training (seed project: 0.1)", "", 0.0, 10.0)
    # The same sums in another kernel order: float rounding apart, the same losses.
    grouped_gemm: bool = knob(True, "Use torch's grouped GEMM for experts on CUDA when available",
                              affects_results=False)


@dataclass
class OptimConfig:
    optimizer: str = knob("muon_adamw", "Muon on 2-D hidden weights + AdamW on the rest, or AdamW alone",
                          choices=("muon_adamw", "adamw"))
    muon_lr: float = knob(0.065, "Peak learning rate of Muon", "lr", 0.0, 10.0)
    adamw_lr: float = knob(0.0, "Peak learning rate of AdamW; 0 = muon_lr / 10 (the seed project's rule)", "lr", 0.0, 10.0)
    momentum: float = knob(0.95, "Muon momentum (Nesterov)", "", 0.0, 0.9999)
    beta1: float = knob(0.9, "AdamW beta1", "", 0.0, 0.9999)
    beta2: float = knob(0.999, "AdamW beta2", "", 0.0, 0.99999)
    weight_decay: float = knob(0.1, "AdamW decoupled weight decay (Muon parameters get none)", "", 0.0, 10.0)
    grad_clip: float = knob(1.0, "Clip the global gradient norm to this; 0 = off", "norm", 0.0, 1e6)
    ns_steps: int = knob(5, "Newton-Schulz iterations in Muon", "steps", 1, 20)
    # Speed switches: the same arithmetic in fewer kernels (tests/test_gpu_path_optim.py).
    muon_batched: bool = knob(True, "Muon orthogonalises same-shape matrices in one batched Newton-Schulz call",
                              affects_results=False)
    fused_adamw: bool = knob(True, "Fused AdamW kernel on CUDA (foreach elsewhere)", affects_results=False)


@dataclass
class ScheduleConfig:
    warmup_steps: int = knob(0, "Linear warmup length in optimizer steps (use this or warmup_ratio)", "steps", 0, 10_000_000)
    warmup_ratio: float = knob(0.1, "Linear warmup as a fraction of max_steps (use this or warmup_steps)", "", 0.0, 1.0)
    decay: str = knob("cosine", "Decay shape after warmup", choices=("cosine", "linear", "constant"))
    min_lr_ratio: float = knob(0.1, "Floor of the decay as a fraction of the peak lr", "", 0.0, 1.0)


@dataclass
class TrainConfig:
    batch_size: int = knob(24, "Sequences per micro-batch", "seqs", 1, 65536)
    gradient_accumulation_steps: int = knob(4, "Micro-batches per optimizer step", "steps", 1, 4096)
    max_steps: int = knob(1000, "Optimizer steps to train (not micro-batches)", "steps", 1, 100_000_000)
    seed: int = knob(42, "Seed of init, batch order and dropout (the split has data.split_seed)", "", 0, 2**31 - 1)
    device: str = knob("auto", "Where to train; auto = CUDA if present, else CPU", choices=("auto", "cuda", "cpu", "mps"))
    use_amp: bool = knob(True, "Mixed precision on GPU (bf16 if supported, else fp16 + grad scaler)")
    amp_dtype: str = knob("auto", "Autocast dtype; auto picks bf16 or fp16 on CUDA and fp32 on CPU",
                          choices=("auto", "bf16", "fp16", "off"))
    compile: bool = knob(False, "torch.compile the model", affects_results=False)
    # 4096 tokens x 49,152 vocab is 0.8 GB of fp32 logits per chunk, in place of 2.4 GB for the
    # baseline's 12,288-token micro-batch; the quick preset's 2,048-token micro-batches keep the plain loss.
    ce_chunk_tokens: int = knob(4096, "Compute the output head and loss this many tokens at a time, so that the "
                                "fp32 logits of a whole micro-batch never exist at once; smaller micro-batches "
                                "and 0 = all at once", "tokens", 0, 10_000_000, affects_results=False)
    prefetch: bool = knob(True, "Cut the next batch on a worker thread while this step computes",
                          affects_results=False)
    # Periodic checkpoints by default, so that a crash loses minutes, not the run. One save of
    # the baseline's model costs ~2 s for 708 MB, rewritten in place (docs/benchmarks.md).
    checkpoint_every: int = knob(1000, "Save a checkpoint when this many steps passed since the last one (and "
                                 "always at the end and on stop); 0 = off", "steps", 0, 100_000_000,
                                 affects_results=False)
    checkpoint_minutes: float = knob(10.0, "Save a checkpoint when this much wall time passed since the last one; "
                                     "0 = off (checked every train.log_every steps)", "min", 0.0, 1e6,
                                     affects_results=False)
    # 1 on CUDA too: the UI charts every step. Each logged step waits for the device to finish
    # it (one sync per step), so the GPU idles while the host starts the next step; the next
    # batch is prefetched, so that gap is the host's work up to the next step's first kernels.
    # `moetui bench` reports tokens/s with a read every step and with none: where the two
    # differ, raise log_every (the guards then act up to log_every - 1 steps late).
    log_every: int = knob(1, "Emit a step event every N optimizer steps; the divergence guards and checkpoint_minutes "
                          "are read on these steps, so they act up to N - 1 steps late", "steps", 1, 1_000_000,
                          affects_results=False)
    experts_every: int = knob(10, "Emit per-layer expert load every N steps", "steps", 1, 1_000_000,
                              affects_results=False)
    # Divergence guards (engine/guards.py), read on the steps that log, evaluate or checkpoint:
    # with log_every = N a guard notices up to N - 1 steps late. A non-finite loss always ends
    # the run. Spikes: healthy quick runs never went past 1.06 x their loss EMA; 3 x for 20
    # steps is a blow-up, and still comes before the loss turns NaN (tests/test_engine_guards.py).
    spike_factor: float = knob(3.0, "A loss spike: the step loss above this x its EMA (50-step horizon, "
                               "judged from step 51 of a run segment)", "x", 1.0, 1e6, affects_results=False)
    spike_steps: int = knob(20, "End the run as diverged after this many consecutive spike steps; 0 = off",
                            "steps", 0, 1_000_000, affects_results=False)
    # Off by default: a slower machine leaves the weights fine, and shared machines (other
    # jobs, a busy CPU) slow down often, so ending the run is the researcher's choice.
    min_throughput_ratio: float = knob(0.0, "End the run as diverged (with a checkpoint) when tokens/s stays below "
                                       "this x the run's typical tokens/s for throughput_minutes; 0 = off",
                                       "x", 0.0, 1.0, affects_results=False)
    throughput_minutes: float = knob(10.0, "How long tokens/s must stay below min_throughput_ratio x typical",
                                     "min", 0.0, 1e6, affects_results=False)
    stall_after: float = knob(300.0, "Show the run as stalled after this long without progress (paused or hung "
                              "engine); allow for your slowest step, eval or data preparation", "s", 10.0, 604800.0,
                              affects_results=False)


@dataclass
class DataConfig:
    source: str = knob("embedded", "'embedded' (stdlib docs, offline), a local file/dir, or hf:NAME for a Hub dataset")
    hf_config: str = knob("", "Hub dataset config name (e.g. cosmopedia-v2)")
    split: str = knob("train", "Hub dataset split")
    text_field: str = knob("text", "Field holding the text in json/jsonl/parquet/Hub records")
    num_documents: int = knob(0, "Use at most this many documents; 0 = all", "docs", 0, 10**12)
    max_chars: int = knob(0, "Cut each document to this many characters; 0 = no cut", "chars", 0, 10**12)
    max_tokens: int = knob(0, "Stop tokenising after this many tokens; 0 = no limit", "tokens", 0, 10**13)
    tokenizer: str = knob("bpe", "'bpe' = train a byte-level BPE here, a Hub tokenizer name, or a tokenizer.json path")
    vocab_size: int = knob(8192, "Vocab of the trained BPE (a pretrained tokenizer brings its own)", "tokens", 256, 1_000_000)
    val_fraction: float = knob(0.1, "Share of documents held out for validation", "", 0.0001, 0.9)
    split_seed: int = knob(42, "Seed of the train/validation split (and so of the BPE's training text); apart from "
                           "train.seed so that every seed of a study is scored on the same documents", "", 0, 2**31 - 1)
    cache_dir: str = knob("", "Token cache directory; empty = <runs store>/.cache", affects_results=False)


@dataclass
class EvalConfig:
    # Evaluation draws no random numbers and leaves the weights as they were (eval mode, no
    # grad): its cadence only places the curve's points, so it does not affect results.
    eval_every: int = knob(10, "Evaluate every N optimizer steps (and always at the end)", "steps", 1, 100_000_000,
                           affects_results=False)
    eval_steps: int = knob(100, "Validation batches per evaluation", "batches", 1, 1_000_000)
    # Samples come from a generator of their own, in eval mode: training draws the same
    # random numbers with them as without (engine/generate.py), so they do not affect results.
    sample_prompts: str = knob("", "Prompts to continue at every eval, separated by |; empty = no samples",
                               affects_results=False)
    sample_tokens: int = knob(32, "Tokens generated per sample prompt", "tokens", 1, 4096, affects_results=False)
    sample_temperature: float = knob(0.8, "Sampling temperature of the eval samples; 0 = greedy (the likeliest "
                                     "token every time)", "", 0.0, 10.0, affects_results=False)


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    moe: MoEConfig = field(default_factory=MoEConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> "Config":
        cfg = cls()
        for section, values in data.items():
            if section not in SECTIONS:
                raise ConfigError(section, _MISSING, _unknown("section", section, SECTIONS), where)
            if not isinstance(values, dict):
                raise ConfigError(section, values, "must be a table of keys, e.g. [model]", where)
            for name, value in values.items():
                set_value(cfg, f"{section}.{name}", value, where)
        return cfg

    @classmethod
    def from_toml(cls, source: str | Path) -> "Config":
        """Read a TOML file (Path) or TOML text (str)."""
        text, where = (source.read_text(), str(source)) if isinstance(source, Path) else (source, "")
        return cls.from_dict(parse_toml(text, where), where)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def copy(self) -> "Config":
        return Config.from_dict(self.to_dict())

    def apply_overrides(self, overrides: list[str], where: str = "override") -> "Config":
        """Return a copy with `section.key=value` strings applied: each value parsed per field type
        and checked against its field's own rule (cross-field rules wait for `validate`)."""
        cfg = self.copy()
        for item in overrides:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(item, _MISSING, "expected section.key=value, e.g. model.d_model=512", where)
            spec, text = field_spec(key.strip(), where), text.strip()
            value = parse_text(spec, text, where)
            # Checked here, not only in validate, so that the error quotes what was typed.
            check_value(spec, value, where, typed=text if spec.type in (int, float) else None)
            set_value(cfg, spec.key, value, where)
        return cfg

    def get(self, key: str) -> Any:
        section, name = _split_key(key, "")
        return getattr(getattr(self, section), name)

    # ---- derived values (one place, so engine, report and UI agree) ---------------
    @property
    def adamw_lr(self) -> float:
        o = self.optim
        return o.adamw_lr if o.adamw_lr > 0 else o.muon_lr / 10

    @property
    def expert_d_ff(self) -> int:
        return self.moe.expert_d_ff or self.model.d_ff

    @property
    def warmup_steps(self) -> int:
        s = self.schedule
        return s.warmup_steps if s.warmup_steps > 0 else int(round(s.warmup_ratio * self.train.max_steps))

    @property
    def tokens_per_step(self) -> int:
        t = self.train
        return t.batch_size * t.gradient_accumulation_steps * self.model.max_seq_len

    # ---- validation -------------------------------------------------------------------
    def validate(self, where: str = "") -> "Config":
        for spec in iter_fields():
            check_value(spec, self.get(spec.key), where)
        for key, ok, rule in _cross_rules(self):
            if not ok:
                raise ConfigError(key, self.get(key), rule, where)
        return self


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}  # type: ignore[misc]


@dataclass(frozen=True)
class FieldSpec:
    """Everything a UI needs to render, parse and check one knob."""
    section: str
    name: str
    type: type
    default: Any
    help: str
    unit: str
    min: float | None
    max: float | None
    choices: tuple[str, ...] | None
    affects_results: bool = True

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"


_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def iter_fields() -> Iterator[FieldSpec]:
    for section, factory in SECTIONS.items():
        for f in dataclasses.fields(factory):
            m = f.metadata
            yield FieldSpec(section, f.name, _TYPES[f.type] if isinstance(f.type, str) else f.type,
                            f.default, m["help"], m["unit"], m["min"], m["max"], m["choices"], m["affects_results"])


_SPECS: dict[str, FieldSpec] = {s.key: s for s in iter_fields()}


def field_spec(key: str, where: str = "") -> FieldSpec:
    if key not in _SPECS:
        section, _, name = key.partition(".")
        if not name and section in SECTIONS:
            raise ConfigError(key, _MISSING, "name a key inside the section, e.g. model.d_model", where)
        raise ConfigError(key, _MISSING, _unknown("key", key, _SPECS), where)
    return _SPECS[key]


def _split_key(key: str, where: str) -> tuple[str, str]:
    spec = field_spec(key, where)
    return spec.section, spec.name


def _unknown(what: str, name: str, known: Any) -> str:
    close: list[str] = []
    if "." in name:  # a right key name under the wrong section beats a look-alike in this one
        tail = name.rsplit(".", 1)[1]
        close = [k for k in known if k.endswith("." + tail)][:1]
    close = close or difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what}{hint}"


def parse_toml(text: str, where: str = "") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("toml", _MISSING, f"TOML syntax error: {e}", where) from None


def format_value(value: Any) -> str:
    """A value as a person types it: floats short (`3e-04` as 0.0003), ints exact -- a
    bound of 2**31 - 1 must not read 2.14748e+09 in the error that enforces it."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_text(spec: FieldSpec, text: str, where: str = "") -> Any:
    """Turn the text a person typed (CLI override, form input) into the field's type."""
    try:
        if spec.type is bool:
            low = text.lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if spec.type in (int, float):
            return _number(spec, text, where)
        return text.strip("\"'")
    except ConfigError:
        raise
    except ValueError:
        raise ConfigError(spec.key, text, f"expected {spec.type.__name__}", where) from None


def _number(spec: FieldSpec, text: str, where: str) -> int | float:
    """An int field takes "1e4" and "2000.0" but not "2.5"; whole digits are read exactly, so
    10**30 typed in full is not rounded to 1000000000000000019884624838656."""
    if spec.type is int:
        with contextlib.suppress(ValueError):
            return int(text)
    number = float(text)
    if not math.isfinite(number):  # "nan", "inf", and "1e400", which overflows to inf
        raise ConfigError(spec.key, text, "must be a finite number", where, typed=text)
    if spec.type is float:
        return number
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


def set_value(cfg: Config, key: str, value: Any, where: str = "") -> None:
    spec = field_spec(key, where)
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        raise ConfigError(key, value, f"expected {spec.type.__name__}", where)
    setattr(getattr(cfg, spec.section), spec.name, value)


def check_value(spec: FieldSpec, value: Any, where: str = "", typed: str | None = None) -> None:
    """Per-field rule: type, bounds, choices. Raises ConfigError naming the rule (quoting
    `typed`, the text the value came from, when there is one)."""
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(spec.key, value, f"must be one of {', '.join(spec.choices)}", where, typed)
    if spec.type in (int, float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(spec.key, value, "must be a finite number", where, typed)
        if spec.min is not None and value < spec.min:
            raise ConfigError(spec.key, value, f"must be >= {format_value(spec.min)}", where, typed)
        if spec.max is not None and value > spec.max:
            raise ConfigError(spec.key, value, f"must be <= {format_value(spec.max)}", where, typed)


def _cross_rules(c: Config) -> list[tuple[str, bool, str]]:
    """Rules that span fields; kept beside the schema so every UI reports them the same way."""
    m, e, o, s = c.model, c.moe, c.optim, c.schedule
    return [
        ("model.n_heads", m.d_model % m.n_heads == 0, f"d_model ({m.d_model}) must be divisible by n_heads"),
        ("model.pos_encoding", m.pos_encoding != "rope" or (m.d_model // m.n_heads) % 2 == 0,
         "RoPE needs an even head dimension (d_model / n_heads)"),
        ("moe.top_k", e.top_k <= e.num_experts, f"must be <= moe.num_experts ({e.num_experts})"),
        ("schedule.warmup_ratio", not (s.warmup_steps > 0 and s.warmup_ratio > 0),
         "set either schedule.warmup_steps or schedule.warmup_ratio, not both (set the other to 0)"),
        ("schedule.warmup_steps", c.warmup_steps <= c.train.max_steps,
         f"warmup ({c.warmup_steps} steps) must not exceed train.max_steps ({c.train.max_steps})"),
        ("optim.adamw_lr", o.optimizer != "adamw" or o.adamw_lr > 0,
         "optimizer 'adamw' needs an explicit optim.adamw_lr > 0"),
    ]


def config_diff(base: Config, other: Config) -> list[tuple[str, Any, Any]]:
    """Keys whose values differ, in schema order: (key, base value, other value)."""
    return [(s.key, base.get(s.key), other.get(s.key)) for s in iter_fields() if base.get(s.key) != other.get(s.key)]
