"""What queueing a study will do, said before it is done: `moetui study S --dry-run` and the
TUI's preview before the study is queued print the same lines, from here.

A study multiplies: six variants times three seeds is eighteen runs, each of which may
quietly undo an edit the person made on the base (a variant that sets `model.dropout`
overrides the dropout typed into the form). So the preview lists every variant with its
overrides, marks the person's own edits a variant overrides, counts the runs, estimates
the time (`moetui.estimate`: measured on earlier runs of the same shape, else a labelled
guess) and warns when the same study already has runs waiting or training.
Nothing here writes anything; the store is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from engine.config import Config
from moetui import estimate, presets, status


@dataclass(frozen=True)
class VariantPreview:
    name: str
    description: str
    overrides: list[str]
    clobbered: list[tuple[str, Any, Any]]  # (key, the person's value, the variant's value)
    seconds: float  # one run of it
    rate: estimate.Throughput


@dataclass(frozen=True)
class StudyPreview:
    study: str
    base: str
    seeds: list[int]
    variants: list[VariantPreview]
    slots: int  # runs trained side by side (GPUs, or one on the CPU)
    already: dict[str, int]  # status -> runs of this study already queued or training

    @property
    def run_count(self) -> int:
        return len(self.variants) * len(self.seeds)

    @property
    def seconds(self) -> float:
        """Wall time for every run, `slots` at a time (as the scheduler runs them)."""
        return sum(v.seconds for v in self.variants) * len(self.seeds) / self.slots

    @property
    def guessed(self) -> list[str]:
        return [v.name for v in self.variants if v.rate.guess]


def preview(study: presets.Study, base_name: str, base: Config, edits: dict[str, Any], seeds: list[int] | None,
            records: Iterable[Any], rates: estimate.Rates, gpus_here: list[str]) -> StudyPreview:
    """The study as it would be queued on `base` (the preset `base_name` with the person's
    `edits`: key -> value, from the form or `--set`). Raises `presets.PresetError` for a
    variant that cannot run, exactly as queueing would."""
    runs = presets.study_configs(study, base=base, seeds=seeds)
    chosen = list(dict.fromkeys(seed for _, seed, _ in runs))
    configs = {variant: config for variant, _, config in runs}
    variants = []
    for variant in study.variants:
        config = configs[variant.name]
        keys = [_key(item) for item in variant.overrides]
        clobbered = [(key, edits[key], config.get(key)) for key in keys if key in edits]
        rate = estimate.throughput(config, rates, bool(gpus_here))
        variants.append(VariantPreview(variant.name, variant.description, list(variant.overrides), clobbered,
                                       estimate.run_seconds(config, rate), rate))
    device = estimate.device_of(base, bool(gpus_here))
    slots = max(1, len(gpus_here)) if device == "gpu" else 1
    already: dict[str, int] = {}
    for record in records:
        if record.study == study.name and record.status in (status.QUEUED, *status.LIVE):
            already[record.status] = already.get(record.status, 0) + 1
    return StudyPreview(study.name, base_name, chosen, variants, slots, already)


def edits_of(config: Config, sets: list[str] | None) -> dict[str, Any]:
    """The person's `--set` edits as key -> value in `config` (the base they were applied to)."""
    return {_key(item): config.get(_key(item)) for item in sets or []}


def _key(override: str) -> str:
    """`model.dropout` of `model.dropout=0.05`."""
    return override.partition("=")[0].strip()


def lines(p: StudyPreview) -> list[str]:
    """The preview as plain text lines (no markup: variant names and notes are the user's text)."""
    seeds = ", ".join(map(str, p.seeds))
    out = [f"study {p.study} on {p.base}: {_many(len(p.variants), 'variant')} x {_many(len(p.seeds), 'seed')} "
           f"({seeds}) = {_many(p.run_count, 'run')}"]
    side = f", {p.slots} at a time" if p.slots > 1 else ", one at a time"
    out.append(f"estimated training time: about {estimate.seconds_text(p.seconds)} in all{side}")
    if p.guessed:
        first = next(v for v in p.variants if v.rate.guess)
        which = "every variant" if len(p.guessed) == len(p.variants) else ", ".join(p.guessed)
        out.append(f"  {which}: {first.rate.source}")
    measured = [v for v in p.variants if not v.rate.guess]
    if measured:
        runs = sum(v.rate.measured_runs for v in measured)
        out.append(f"  {len(measured)} variants timed on earlier runs of their shape ({runs} runs)")
    if p.already:
        counts = ", ".join(f"{n} {what}" for what, n in sorted(p.already.items()))
        out.append(f"warning: study {p.study} already has runs in the queue ({counts}); queueing adds "
                   f"{p.run_count} more")
    out.append("")
    for v in p.variants:
        mark = "?" if v.rate.guess else ""
        out.append(f"{v.name}  ({len(p.seeds)} x about {estimate.seconds_text(v.seconds)}{mark})")
        if v.description:
            out.append(f"  {v.description}")
        out.append("  overrides: " + (", ".join(v.overrides) if v.overrides else "none (the base as is)"))
        for key, yours, theirs in v.clobbered:
            out.append(f"  ! replaces your edit {key}={yours} with {theirs}")
    if p.guessed:
        out.append("")
        out.append("? a guess from the model's FLOPs, not from a run; it errs long")
    return out


def _many(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"
