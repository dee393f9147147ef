"""scripts/gpu_check.sh, the one prepared GPU check, and its Python half: proven on the CPU
(`--cpu-dry-run`), since a GPU is lent to few sessions and its minutes are few."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.protocol import encode, make_event
from tests.engine_helpers import ROOT

_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)

STAGES = ["wheels", "tests", "tokenizer", "train-bf16", "train-fp16", "stop-resume", "bench-baseline-fp16",
          "bench-baseline-bf16", "bench-moe100m"]


def write_events(run_dir: Path, *events: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "events.jsonl", "a") as f:
        f.writelines(encode(e) + "\n" for e in events)


def start(step: int = 0, dtype: str = "bf16", vocab: int = 49152, resumed: bool = False) -> dict:
    return make_event("start", step=step, dtype=dtype, vocab_size=vocab, resumed=resumed, params_total=79_059_840,
                      params_active=36_592_512, device="cuda", expert_path={"name": "grouped", "reason": "r"})


def steps(losses: list[float | None], first: int = 1) -> list[dict]:
    return [make_event("step", step=first + i, loss=loss, tokens_per_s=1000.0) for i, loss in enumerate(losses)]


def end(step: int, status: str = "completed") -> dict:
    return make_event("end", step=step, status=status, metrics={}, wall_time=1.0)


def test_a_training_passes_when_it_completes_in_its_dtype_and_vocab_with_a_falling_loss(tmp_path):
    falling = [10.8 - 0.03 * i for i in range(200)]
    write_events(tmp_path / "good", start(), *steps(falling), end(200))
    verdict = gpu_check.judge_training(tmp_path / "good", 200, "bf16", 49152)
    assert verdict["ok"] and verdict["loss_last"] < verdict["loss_first"] and verdict["params_total"] == 79_059_840
    write_events(tmp_path / "flat", start(dtype="fp32", vocab=25366), *steps([10.8] * 200), end(150, "stopped"))
    why = gpu_check.judge_training(tmp_path / "flat", 200, "bf16", 49152)["why"]
    assert "ended stopped at step 150" in why and "trained in fp32, not bf16" in why
    assert "vocab 25366, not 49152" in why and "loss did not fall by 5%" in why
    write_events(tmp_path / "nan", start(), *steps([10.8, 9.0, None]), end(3))
    assert gpu_check.judge_training(tmp_path / "nan", 3, None, 49152)["why"] == "non-finite loss at step 3"


def test_stop_resume_passes_for_a_stop_with_a_checkpoint_then_a_resume_from_that_step(tmp_path):
    checkpoint = make_event("checkpoint", step=31, path="checkpoint.pt")
    write_events(tmp_path / "good", start(), *steps([5.0] * 31), checkpoint, end(31, "stopped"),
                 start(31, resumed=True), *steps([5.0] * 20, 32), end(51))
    assert gpu_check.judge_stop_resume(tmp_path / "good", 20) == {
        "ok": True, "why": "", "stopped_at": 31, "ended_at": 51, "device": "cuda"}
    write_events(tmp_path / "fresh", start(), *steps([5.0] * 31), end(31, "stopped"), start(0), end(20))
    why = gpu_check.judge_stop_resume(tmp_path / "fresh", 20)["why"]
    assert "no checkpoint at the stop" in why and "resumed at step 0" in why and "ended completed at step 20" in why


def test_only_the_modules_that_cannot_be_imported_are_installed_from_their_wheels(tmp_path):
    (tmp_path / "tomli_w-1.2.0-py3-none-any.whl").write_bytes(b"")
    wheels, absent = gpu_check.missing_wheels(tmp_path, {"json": "json", "no_such_module_a": "tomli_w",
                                                         "no_such_module_b": "nothing"})
    assert wheels == [tmp_path / "tomli_w-1.2.0-py3-none-any.whl"] and absent == ["no_such_module_b"]


def test_the_tokenizer_is_padded_to_exactly_the_vocab_when_the_corpus_runs_out_of_merges(tmp_path, monkeypatch):
    import engine.corpus

    monkeypatch.setattr(engine.corpus, "read_documents", lambda data: [f"doc {i}: abc abd" for i in range(20)])
    padding = gpu_check.padded_bpe(tmp_path / "tok.json", 400)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tmp_path / "tok.json"))
    assert tokenizer.get_vocab_size() == 400 and padding > 0
    assert tokenizer.token_to_id(f"<|reserved_{padding - 1}|>") == 399


def test_a_stage_that_timed_out_fails_the_summary(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    (work / "logs").mkdir(parents=True)
    out.mkdir()
    (work / "logs" / "tests.log").write_text("3 passed in 2.0s\n")
    (work / "stages.tsv").write_text("tests\t0\t12\tlog\ntrain-bf16\t124\t120\ttrain train-bf16 200 bf16 49152\n")
    summary = gpu_check.summarize(work, out)
    assert not summary["ok"] and summary["seconds"] == 132
    assert [(s["name"], s["ok"], s["why"]) for s in summary["stages"]] == [
        ("tests", True, ""), ("train-bf16", False, "exit code 124 (timed out)")]
    assert summary["stages"][0]["said"] == "3 passed in 2.0s"
    assert "# GPU check: FAIL" in gpu_check.render(summary) and "| train-bf16 | FAIL |" in gpu_check.render(summary)


@pytest.mark.slow
def test_the_dry_run_on_cpu_passes_every_stage_and_leaves_one_summary(tmp_path):
    done = subprocess.run(["bash", "scripts/gpu_check.sh", "--cpu-dry-run", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    print(done.stdout[-3000:], done.stderr[-3000:])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == STAGES
    assert done.returncode == 0 and summary["ok"] and summary["mode"] == "cpu", summary
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # what the device tool brings back: 8 files at most
        "bench-baseline-bf16.json", "bench-baseline-fp16.json", "bench-moe100m.json", "logs.tar.gz", "summary.json",
        "summary.md"]
    stages = {s["name"]: s for s in summary["stages"]}
    assert stages["stop-resume"]["ended_at"] == stages["stop-resume"]["stopped_at"] + 5
    assert stages["train-bf16"]["dtype"] == "bf16" and stages["train-fp16"]["dtype"] == "fp32"  # fp16 is CUDA's
    assert stages["bench-baseline-fp16"]["vocab"] == 512 and "b/a" in stages["bench-moe100m"]["ratios"]
    assert "deselected" in stages["tests"]["said"]


def test_the_script_is_strict_bash():
    text = (ROOT / "scripts" / "gpu_check.sh").read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert subprocess.run(["bash", "-n", "scripts/gpu_check.sh"], cwd=ROOT).returncode == 0
    assert subprocess.run([sys.executable, "scripts/gpu_check.py", "nonsense"], cwd=ROOT,
                          capture_output=True).returncode == 2
