"""How big and how slow a config will be before it runs: parameters, memory, time per step.

The launch form and the study preview show these for a config nobody has built, in a
process that must not import torch, so everything is arithmetic on the Config (sizes
from engine/sizing.py) plus what earlier runs of the store measured. Time comes from
earlier completed runs of the same shape (their tokens trained over their training time,
evals included, read from their events through the report's digest cache) and only
otherwise from FLOPs per token at an assumed rate, which callers label as a guess.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from engine.config import Config, ConfigError
from engine.rundir import EVENTS_FILE
from engine.sizing import Size, size_of

# Assumed training throughput when no earlier run of the shape exists, on the low side so
# that a guess errs long: the quick preset measured ~70 GFLOP/s on two shared CPU cores
# (docs/benchmarks.md), and the seed's baseline at ~54k tokens/s is ~10 TFLOP/s on a GPU.
GUESS_FLOPS = {"cpu": 2e10, "gpu": 5e12}


@dataclass(frozen=True)
class Shape:
    """What decides a run's speed on one machine: the model's size and FLOPs (at the config's
    own vocab, so that equal configs match whatever tokenizer they trained) and the micro-batch."""

    size: Size
    batch_size: int
    seq_len: int
    tokenizer: str


def shape_of(config: Config) -> Shape:
    return Shape(size_of(config, config.data.vocab_size), config.train.batch_size, config.model.max_seq_len,
                 config.data.tokenizer)


@dataclass(frozen=True)
class Throughput:
    tokens_per_s: float
    measured_runs: int  # earlier runs it is the median of; 0: a guess from FLOPs
    device: str  # "cpu" or "gpu": what a guess assumed

    @property
    def guess(self) -> bool:
        return self.measured_runs == 0

    @property
    def source(self) -> str:
        """Where the number comes from, in words a person can judge it by."""
        if not self.guess:
            runs = "run" if self.measured_runs == 1 else "runs"
            return f"measured on {self.measured_runs} earlier {runs} of this shape"
        flops = GUESS_FLOPS[self.device]
        rate = f"{flops / 1e12:g} TFLOP/s" if flops >= 1e12 else f"{flops / 1e9:g} GFLOP/s"
        return f"a guess at an assumed {rate} on {self.device} (no earlier completed run of this shape)"


Rates = dict[Shape, list[float]]


def measured_rates(records: Iterable[Any], root: Path) -> Rates:
    """tokens/s of every completed run among `records` (RunRecords of the store at `root`),
    by shape. Reads digests through the report's cache (nothing is written: a dry run must
    leave the store as it was); a run whose events or config cannot be read is skipped."""
    from moetui.report.cache import DigestCache  # the report package is heavy; only here

    cache = DigestCache.for_store(root)
    rates: Rates = {}
    for record in records:
        if record.status != "completed":
            continue
        try:
            digest = cache.digest(Path(record.path) / EVENTS_FILE)
            config = Config.from_dict(digest.config or {})
        except (OSError, ConfigError, TypeError, ValueError):
            continue
        if digest.config and digest.wall_time and digest.tokens > 0:
            rates.setdefault(shape_of(config), []).append(digest.tokens / digest.wall_time)
    return rates


def device_of(config: Config, gpus_here: bool) -> str:
    """Where the run will train: `train.device`, with auto meaning a GPU when there is one."""
    if config.train.device == "auto":
        return "gpu" if gpus_here else "cpu"
    return "cpu" if config.train.device in ("cpu", "mps") else "gpu"


def throughput(config: Config, rates: Rates, gpus_here: bool) -> Throughput:
    device = device_of(config, gpus_here)
    measured = rates.get(shape_of(config))
    if measured:
        return Throughput(statistics.median(measured), len(measured), device)
    return Throughput(GUESS_FLOPS[device] / shape_of(config).size.flops_per_token, 0, device)


def step_seconds(config: Config, rate: Throughput) -> float:
    return config.tokens_per_step / rate.tokens_per_s


def run_seconds(config: Config, rate: Throughput) -> float:
    return config.train.max_steps * step_seconds(config, rate)


@dataclass(frozen=True)
class Memory:
    """Bytes one device holds while training, by a rough formula (see `memory`)."""

    weights: int
    grads: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.grads + self.optimizer + self.activations


def memory(config: Config, gpu: bool) -> Memory:
    """A rough peak for one micro-batch, to tell 2 GB from 80 GB, not to plan to the byte:

    - weights and grads: 4 bytes per parameter each (fp32 masters, also under AMP);
    - optimizer: AdamW keeps two moments (8 bytes a parameter), Muon one momentum (4);
      with `muon_adamw`, AdamW holds the embedding and output head, Muon the rest;
    - activations kept for backward: Korthikanti et al. (2022) for a layer without
      recomputation, `s·b·(34·d + 5·heads·s)` bytes in 16-bit, with its 4·d FFN share (19 of
      the 34) scaled to top_k experts of width expert_d_ff, times recursive passes; doubled in
      fp32 (CPU, or AMP off); plus the fp32 logits and their gradient, `2·4·b·s·vocab`.
    """
    m, t = config.model, config.train
    vocab = config.data.vocab_size
    size = size_of(config, vocab)
    embedding = (1 if m.tie_embeddings else 2) * vocab * m.d_model
    muon = size.total - embedding if config.optim.optimizer == "muon_adamw" else 0
    optimizer = 4 * muon + 8 * (size.total - muon)
    b, s, d = t.batch_size, m.max_seq_len, m.d_model
    ffn = 19 * config.moe.top_k * config.expert_d_ff / (4 * d)
    passes = m.h_cycles * m.l_cycles if m.recursive else 1
    per_layer = s * b * ((15 + ffn) * d + 5 * m.n_heads * s)
    half = gpu and t.use_amp and t.amp_dtype != "off"
    activations = per_layer * m.n_layers * passes * (1 if half else 2) + 2 * 4 * b * s * vocab
    return Memory(4 * size.total, 4 * size.total, optimizer, int(activations))


def gigabytes(n: float) -> str:
    return f"{n / 1e9:.2g} GB" if n >= 1e9 else f"{n / 1e6:.3g} MB"


def seconds_text(seconds: float) -> str:
    """`40 s`, `12 min`, `3.5 h`, `2.1 days`: an estimate's precision, no more."""
    for size, unit in ((2 * 86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / (86400 if unit == 'days' else size):.2g} {unit}"
    return f"{seconds:.2g} s"
