"""Presets and studies: named TOML files of partial configs, and named sets of variants.

A preset (`presets/NAME.toml`) holds `description`, optional `extends = "other"` and the
config tables that differ from the schema defaults; `extends` layers it on another preset.
A study (`presets/studies/NAME.toml`) holds `description`, `base` (a preset), optional
`seeds`, `baseline` (the variant every other is compared with in `moetui report`) and
`[[variant]]` tables with `name`, `description` and `overrides` (the same
`section.key=value` strings as `--set`). Every variant runs once per seed.

Lookup order: the user's presets directory ($MOETUI_PRESETS, else
~/.config/moetui/presets, where the TUI saves presets), then the built-in presets: the
top-level `presets/` of a source checkout, or the copy installed as `moetui/_presets`.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import Config, ConfigError, parse_toml
from moetui import preflight
from moetui.errors import MoetuiError

PRESETS_ENV = "MOETUI_PRESETS"
STUDIES = "studies"
_PACKAGE = Path(__file__).resolve().parent
_PRESET_KEYS = ("description", "extends")
_STUDY_KEYS = ("description", "base", "seeds", "baseline", "variant")
_VARIANT_KEYS = ("name", "description", "overrides")


class PresetError(MoetuiError):
    """A preset or study that does not exist or does not hold together."""


@dataclass(frozen=True)
class PresetMeta:
    name: str
    description: str
    path: Path
    extends: tuple[str, ...] = ()  # the chain of presets it builds on, nearest first


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    overrides: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Study:
    name: str
    description: str
    base: str
    seeds: list[int]
    variants: list[Variant]
    path: Path | None = None
    baseline: str | None = None  # the variant the report compares the others with


# ---- where presets live -------------------------------------------------------------------
def builtin_presets_dir() -> Path:
    """The shipped presets: `moetui/_presets` when installed from a wheel, else the
    checkout's top-level `presets/` (editable installs and running from source)."""
    installed = _PACKAGE / "_presets"
    return installed if installed.is_dir() else _PACKAGE.parent / "presets"


def user_presets_dir() -> Path:
    """Where a person's own presets live (the TUI's "save preset" writes here)."""
    configured = os.environ.get(PRESETS_ENV)
    if configured:
        return Path(configured).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "moetui" / "presets"


def _dirs(kind: str) -> list[Path]:
    roots = [user_presets_dir(), builtin_presets_dir()]
    return [root / STUDIES if kind == "study" else root for root in roots]


def _names(kind: str) -> dict[str, Path]:
    """Name -> file, the user's files shadowing built-in ones of the same name."""
    found: dict[str, Path] = {}
    for folder in _dirs(kind):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def _find(kind: str, name: str) -> Path:
    if name.endswith(".toml") or os.sep in name:  # a file a person points at directly
        path = Path(name).expanduser()
        if path.is_file():
            return path
        raise PresetError(f"{kind} file {name!r} does not exist")
    names = _names(kind)
    if name in names:
        return names[name]
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.5)
    listing = "moetui presets" if kind == "preset" else "moetui presets (studies are listed last)"
    hint = f"did you mean {' or '.join(map(repr, close))}?" if close else f"see {listing}"
    raise PresetError(f"unknown {kind} {name!r}", hint)


def _read(path: Path) -> dict[str, Any]:
    try:
        return parse_toml(path.read_text(), str(path))
    except ConfigError as e:
        raise PresetError(str(e)) from None
    except OSError as e:
        raise PresetError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:  # TOML is UTF-8; a file saved as Latin-1 or a binary one is not
        raise PresetError(f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})",
                          "save it as UTF-8") from None


def _description(path: Path) -> str:
    try:
        return str(_read(path).get("description", ""))
    except PresetError as e:
        return f"(broken: {e})"


def list_presets() -> dict[str, str]:
    """Preset name -> description."""
    return {name: _description(path) for name, path in _names("preset").items()}


def list_studies() -> dict[str, str]:
    """Study name -> description."""
    return {name: _description(path) for name, path in _names("study").items()}


# ---- presets ------------------------------------------------------------------------------
def _layered(name: str, seen: tuple[str, ...] = (), child: Path | None = None
             ) -> tuple[dict[str, dict[str, Any]], PresetMeta]:
    """The preset's tables merged over those of the presets it extends (`child`: the file
    whose `extends` named this one, so that a missing parent points at the line to fix)."""
    if name in seen:
        raise PresetError(f"{child}: extends {name!r}, a cycle: {' -> '.join(seen + (name,))}",
                          "one preset of the cycle must extend another preset, or none")
    try:
        path = _find("preset", name)
    except PresetError as e:
        if child is None:
            raise
        raise PresetError(f"{child}: extends {e.message}", e.hint) from None
    data = _read(path)
    for key, value in data.items():
        if key not in _PRESET_KEYS and not isinstance(value, dict):
            raise PresetError(f"{path}: top-level key {key!r} is not a config table",
                              f"put it under its section, e.g. [model], or use one of {', '.join(_PRESET_KEYS)}")
    parent = data.get("extends")
    tables: dict[str, dict[str, Any]] = {}
    chain: tuple[str, ...] = ()
    if parent is not None:
        if not isinstance(parent, str):
            raise PresetError(f"{path}: extends = {parent!r} must be a preset name")
        tables, parent_meta = _layered(parent, seen + (name,), path)
        chain = (parent,) + parent_meta.extends
    for section, values in data.items():
        if isinstance(values, dict):
            tables.setdefault(section, {}).update(values)
    meta = PresetMeta(Path(name).stem if name.endswith(".toml") else name, str(data.get("description", "")),
                      path, chain)
    return tables, meta


def load_preset(name: str) -> tuple[Config, PresetMeta]:
    """The validated config a preset resolves to, and where it came from."""
    tables, meta = _layered(name)
    try:
        return Config.from_dict(tables, str(meta.path)).validate(str(meta.path)), meta
    except ConfigError as e:
        raise PresetError(str(e)) from None


# ---- studies ------------------------------------------------------------------------------
def _unknown_keys(found: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in found:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            raise PresetError(f"{where}: unknown key {key!r}",
                              f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}")


def _variant(raw: Any, where: str) -> Variant:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise PresetError(f"{where}: every [[variant]] needs a name", 'e.g. name = "low_dropout"')
    _unknown_keys(raw, _VARIANT_KEYS, f"{where} variant {raw['name']!r}")
    problem = preflight.name_problem(raw["name"])  # it becomes part of each run's name
    if problem:
        raise PresetError(f"{where}: variant name {raw['name']!r} {problem}", "name it on one line")
    overrides = raw.get("overrides", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise PresetError(f"{where} variant {raw['name']!r}: overrides must be a list of strings",
                          'e.g. overrides = ["model.dropout=0.05"]')
    return Variant(raw["name"], str(raw.get("description", "")), overrides)


def load_study(name: str) -> Study:
    path = _find("study", name)
    data = _read(path)
    where = str(path)
    _unknown_keys(data, _STUDY_KEYS, where)
    base = data.get("base")
    if not isinstance(base, str):
        raise PresetError(f"{where}: base must name a preset", 'e.g. base = "baseline"')
    try:  # here, so that the error names this file rather than only the missing preset
        _find("preset", base)
    except PresetError as e:
        raise PresetError(f"{where}: base: {e.message}", e.hint) from None
    seeds = data.get("seeds", [])
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise PresetError(f"{where}: seeds must be a list of integers", "e.g. seeds = [42, 43]")
    variants = [_variant(raw, where) for raw in data.get("variant", [])]
    if not variants:
        raise PresetError(f"{where}: a study needs at least one [[variant]]")
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PresetError(f"{where}: variant names repeat: {', '.join(duplicates)}")
    baseline = data.get("baseline")
    if baseline is not None and baseline not in names:
        raise PresetError(f"{where}: baseline = {baseline!r} is not one of its variants",
                          f"variants: {', '.join(names)}")
    return Study(Path(name).stem if name.endswith(".toml") else name, str(data.get("description", "")),
                 base, seeds, variants, path, baseline)


def study_configs(study: Study, base: str | Config | None = None, seeds: list[int] | None = None,
                  gpus_here: bool = True) -> list[tuple[str, int, Config]]:
    """(variant name, seed, validated config, ready for this machine: see `preflight.ready`)
    for every variant x seed, seed-major so that a study cut short still holds complete
    comparisons. `base` replaces the study's base preset (a preset name, or an edited
    config); `seeds` replaces the study's seeds; `gpus_here` False for runs that train
    elsewhere (Slurm)."""
    if base is None or isinstance(base, str):
        base_config = load_preset(base or study.base)[0]
    else:
        base_config = base
    seeds = seeds or study.seeds or [base_config.train.seed]
    out = []
    for seed in seeds:
        for variant in study.variants:
            where = f"study {study.name}, variant {variant.name}"
            try:
                config = base_config.apply_overrides(variant.overrides, where)
                config.train.seed = seed
                # Every run checked here, before the first is queued: no half-queued study.
                out.append((variant.name, seed, preflight.ready(config.validate(where), gpus_here=gpus_here)))
            except ConfigError as e:
                raise PresetError(str(e)) from None
            except preflight.PreflightError as e:
                raise PresetError(f"{where}: {e.message}", e.hint) from None
    return out
