"""From the launch form to the store: a study's runs, runs handed to Slurm, or a saved preset.

Studies are expanded by `moetui.presets` and queued by `moetui.scheduler`, and Slurm jobs
are checked and submitted by `moetui.slurm_submit`, so what the form does is what the
CLI does (`moetui study`, `moetui run --slurm`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomli_w

from engine.config import Config, config_diff
from moetui import notes, presets, scheduler, slurm_config, slurm_submit
from moetui.runs import RunRecord

_PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def parse_seeds(text: str) -> list[int]:
    """`1, 2 3` -> [1, 2, 3]."""
    words = [w for w in re.split(r"[,\s]+", text.strip()) if w]
    if not words or not all(re.fullmatch(r"\d+", w) for w in words):
        raise ValueError(f"seeds must be whole numbers separated by commas, e.g. 1, 2, 3 (got {text!r})")
    return [int(w) for w in words]


def queue_study(store: Any, study: Any, preset: str, base: Config, seeds: list[int], **labels: Any) -> int:
    """Queue every variant x seed of `study` on top of `base` (preset `preset`, as edited in
    the form), each with the form's `notes` and `tags`; the scheduler starts them as devices
    free up. Returns how many were queued."""
    queued = scheduler.enqueue(store, study.name, preset, presets.study_configs(study, base=base, seeds=seeds))
    if any(labels.values()):
        for record in queued:
            notes.annotate(store, record.id, **labels)
    scheduler.ensure_scheduler(store)
    return len(queued)


def submit_to_slurm(store: Any, config: Config, **fields: Any) -> tuple[list[RunRecord], list[str]]:
    """One run as one Slurm job, with the options of `[slurm]` in config.toml (`fields` as for
    `RunStore.create`); [its record] and the warnings to show, as for a study. MoetuiError
    (one line) when it cannot go: no sbatch, options Slurm refuses, more GPUs than the
    partition has."""
    options = slurm_config.load()
    warnings = slurm_submit.check(store, config, options)
    return [slurm_submit.submit_run(store, config, options, **fields)], warnings


def submit_study_to_slurm(store: Any, study: Any, preset: str, base: Config, seeds: list[int],
                          **labels: Any) -> tuple[list[RunRecord], list[str]]:
    """Every variant x seed of `study` on `base` as one Slurm job each, checked first on the
    first run's config, as `moetui study --slurm` does."""
    options = slurm_config.load()
    runs = presets.study_configs(study, base=base, seeds=seeds, gpus_here=False)
    warnings = slurm_submit.check(store, runs[0][2], options)
    return slurm_submit.submit_study(store, study.name, preset, runs, options, **labels), warnings


def preset_toml(config: Config, description: str) -> str:
    """A preset holds what differs from the schema defaults, like the hand-written ones."""
    tables: dict[str, dict[str, Any]] = {}
    for key, _, value in config_diff(Config(), config):
        section, name = key.split(".", 1)
        tables.setdefault(section, {})[name] = value
    return tomli_w.dumps({"description": description, **tables})


def check_preset_name(name: str) -> None:
    if not _PRESET_NAME.match(name):
        raise ValueError(f"preset name {name!r}: use letters, digits, - and _ (starting with a letter or digit)")


def preset_clash(name: str) -> str | None:
    """What saving as `name` would replace, as a question, or None when the name is free."""
    if (presets.user_presets_dir() / f"{name}.toml").exists():
        return f"Replace your preset {name}?"
    if name in presets.list_presets():  # yours is used wherever the name is, until you delete it
        return f"Save over the built-in {name}? Yours shadows it."
    return None


def save_preset(name: str, config: Config, description: str) -> Path:
    """Write the user's preset `name` (after `preset_clash` was asked: this replaces a file of
    that name, and shadows a built-in preset, as user presets do)."""
    check_preset_name(name)
    folder = presets.user_presets_dir()
    path = folder / f"{name}.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(preset_toml(config, description))
    return path
