"""End to end, as a person would do it: a two-variant study queued with `moetui study`
on `quick`, trained by the real engine through the scheduler, then `moetui report`."""

from __future__ import annotations

import json
import math

import pytest

from moetui.runs import RunStore
from tests.cli_helpers import fast_sets, moetui, wait_for

STUDY = """description = "quick's warmup or a long one"
base = "quick"
seeds = [42]
baseline = "baseline"

[[variant]]
name = "baseline"
overrides = []

[[variant]]
name = "long_warmup"
overrides = ["schedule.warmup_ratio=0.5"]
"""


@pytest.mark.slow
def test_a_two_variant_study_trained_on_quick_is_reported(runs_dir, token_cache_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MOETUI_PRESETS", str(tmp_path / "presets"))  # this test's own, seen by no other
    studies = tmp_path / "presets" / "studies"
    studies.mkdir(parents=True)
    (studies / "e2e.toml").write_text(STUDY)
    queued = moetui("study", "e2e", *fast_sets(token_cache_dir, "train.max_steps=8", "eval.eval_every=4"))
    assert queued.exit_code == 0, queued.stderr
    store = RunStore(runs_dir)
    for record in [r for r in store.list() if r.study == "e2e"]:
        assert wait_for(store, record.id, ("completed", "failed", "crashed"), timeout=150).status == "completed"

    result = moetui("report", "--study", "e2e", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    rows = {row["label"]: row for row in data["rows"]}
    assert set(rows) == {"baseline", "long_warmup"} and data["baseline"] == "baseline"
    assert data["baseline_choice"] == "declared by study e2e"
    config = store.config(store.list()[0].id)
    for row in rows.values():
        assert row["status"] == "completed" and row["step"] == 8 and math.isfinite(row["val_loss"])
        assert 0 < row["val_accuracy"] < 1 and row["params_active"] < row["params_total"]
        assert row["tokens"] == 8 * config.tokens_per_step
    other = rows["long_warmup"]
    assert other["flags"] == [] and other["verdict"] == "single seed: no noise estimate"
    # Compared as the engine runs it: quick's 5% of 8 steps rounds to no warmup, half of them is 4.
    assert other["key_changes"] == [{"key": "schedule.warmup_steps", "old": config.warmup_steps, "new": 4}]
    expected = (rows["baseline"]["val_loss"] - other["val_loss"]) / rows["baseline"]["val_loss"] * 100
    assert other["delta_pct"] == pytest.approx(expected)

    markdown = moetui("report", "--study", "e2e").stdout
    assert "| baseline |" in markdown and "## Best configuration" in markdown
