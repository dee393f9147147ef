"""Shared by the engine tests: tiny configs on the quick preset, engine runs in-process
and as `python -m engine` subprocesses, and reading what a run left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from engine.config import Config, parse_toml
from engine.events import EventSink
from engine.lifecycle import run_engine
from engine.protocol import parse_lines
from engine.rundir import CONFIG_FILE, EVENTS_FILE, read_run_json  # noqa: F401 (re-exported)
from engine.stop import StopRequest

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "presets" / "quick.toml"

# Smaller than quick so that a step takes milliseconds; the data is the embedded corpus.
TINY = ["model.d_model=64", "model.n_heads=2", "model.n_layers=2", "model.d_ff=128", "model.max_seq_len=32",
        "train.batch_size=4", "eval.eval_steps=2", "eval.eval_every=1000", "train.experts_every=1000"]


def quick_config(cache_dir: Path, *overrides: str, tiny: bool = True) -> Config:
    """The quick preset (its `description` is preset documentation, not a config key) with
    the shared token cache, the TINY sizes unless tiny=False, and then `overrides`."""
    table = parse_toml(QUICK.read_text())
    table.pop("description", None)
    base = Config.from_dict(table, str(QUICK))
    return base.apply_overrides([f"data.cache_dir={cache_dir}", *(TINY if tiny else []), *overrides]).validate()


def write_run(run_dir: Path, cfg: Config) -> Path:
    """A run directory as the store leaves it before launch: config.toml in place."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CONFIG_FILE
    path.write_text(cfg.to_toml())
    return path


def train_in_process(run_dir: Path, cfg: Config, resume: bool = False,
                     listener: Callable[[dict[str, Any]], None] | None = None,
                     stop: StopRequest | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Run the engine in this process (no torch import per run); returns (exit code, events)."""
    events: list[dict[str, Any]] = []
    listeners = [events.append] + ([listener] if listener else [])
    path = write_run(run_dir, cfg)
    code = run_engine(path, run_dir, resume, EventSink(run_dir / EVENTS_FILE, None, listeners), stop)
    return code, events


def engine_command(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "engine", "--config", str(run_dir / CONFIG_FILE), "--run-dir", str(run_dir), *extra]


def engine_env() -> dict[str, str]:
    """The test process's environment (offline HF) with the source checkout importable."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def run_subprocess(run_dir: Path, cfg: Config, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    write_run(run_dir, cfg)
    return subprocess.run(engine_command(run_dir, *extra), capture_output=True, text=True, timeout=timeout,
                          env=engine_env(), cwd=ROOT)


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    return list(parse_lines((run_dir / EVENTS_FILE).read_text().splitlines()))


def of_type(events: list[dict[str, Any]], type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type]

