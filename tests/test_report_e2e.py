"""End to end: a two-variant study on `quick`, trained by the real engine, then reported."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine.config import Config
from engine.rundir import CONFIG_FILE, RUN_FILE
from tests.test_report_command import report

QUICK = Path(__file__).resolve().parents[1] / "presets" / "quick.toml"
VARIANTS = {"baseline": [], "no_warmup": ["schedule.warmup_ratio=0.0"]}


def _quick(token_cache_dir: Path, overrides: list[str]) -> Config:
    preset = tomllib.loads(QUICK.read_text())
    preset.pop("description", None)
    tiny = ["train.max_steps=8", "eval.eval_every=4", "eval.eval_steps=2", f"data.cache_dir={token_cache_dir}"]
    return Config.from_dict(preset).apply_overrides(tiny + overrides)


@pytest.mark.slow
def test_a_two_variant_study_trained_on_quick_is_reported(runs_dir, token_cache_dir):
    for i, (variant, overrides) in enumerate(VARIANTS.items()):
        run_dir = runs_dir / f"e2e-{variant}"
        run_dir.mkdir()
        (run_dir / CONFIG_FILE).write_text(_quick(token_cache_dir, overrides).to_toml())
        (run_dir / RUN_FILE).write_text(json.dumps({"id": run_dir.name, "name": run_dir.name, "preset": "quick",
                                                    "study": "e2e", "variant": variant, "seed": 42,
                                                    "status": "queued", "created": float(i)}))
        subprocess.run([sys.executable, "-m", "engine", "--config", str(run_dir / CONFIG_FILE),
                        "--run-dir", str(run_dir)], check=True, capture_output=True, timeout=300)

    data = json.loads(report("--study", "e2e", "--format", "json").stdout)
    rows = {row["label"]: row for row in data["rows"]}
    assert set(rows) == {"baseline", "no_warmup"} and data["baseline"] == "baseline"
    for row in rows.values():
        assert row["status"] == "completed" and row["steps"] == 8 and math.isfinite(row["val_loss"])
        assert 0 < row["val_accuracy"] < 1 and row["params_active"] < row["params_total"]
    other = rows["no_warmup"]
    assert other["tokens"] == rows["baseline"]["tokens"] == 8 * 16 * 128 and other["flags"] == []
    assert other["key_changes"] == [{"key": "schedule.warmup_ratio", "old": 0.05, "new": 0.0}]
    expected = (rows["baseline"]["val_loss"] - other["val_loss"]) / rows["baseline"]["val_loss"] * 100
    assert other["delta_pct"] == pytest.approx(expected)

    markdown = report("--study", "e2e").stdout
    assert "| baseline |" in markdown and "## Best configuration" in markdown
