"""The Python half of scripts/gpu_check.sh: what is easier to get right in Python than in
bash, each a subcommand the script calls, and each a plain function the tests call.

    missing-wheels DIR         the wheels in DIR for the modules this Python cannot import
    tokenizer PATH VOCAB       a byte-level BPE of exactly VOCAB tokens for the embedded corpus
    wait-step EVENTS STEP S    wait up to S seconds for a step event at or past STEP
    last-step EVENTS           the step the last `end` event names
    summary WORK OUT           judge every stage and write OUT/summary.md and OUT/summary.json

No torch here: the script's stages run the engine as its own processes.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's engine/ and moetui/

from engine.protocol import parse_lines  # noqa: E402
from engine.rundir import EVENTS_FILE  # noqa: E402

# What the check imports, by module, with the distribution whose wheel brings it (as wheel
# files spell it). The device machine's image has some of them (KINDS.md); only the others
# are installed, from the carried folder, never from a network.
NEEDED = {"tomli_w": "tomli_w", "tokenizers": "tokenizers", "typer": "typer", "click": "click",
          "shellingham": "shellingham", "annotated_doc": "annotated_doc", "rich": "rich",
          "markdown_it": "markdown_it_py", "mdurl": "mdurl", "pygments": "pygments", "psutil": "psutil"}
LOSS_DROP = 0.05  # the last steps' mean loss must be at least 5% under the first steps' (0.5 nats at ln 49152)
STAGES_FILE = "stages.tsv"


# ---- wheels --------------------------------------------------------------------------------
def missing_wheels(folder: Path, modules: dict[str, str] = NEEDED) -> tuple[list[Path], list[str]]:
    """(wheels to install, modules missing with no wheel in `folder`) for what cannot be imported."""
    import importlib.util

    wheels, absent = [], []
    for module, dist in modules.items():
        if importlib.util.find_spec(module) is not None:
            continue
        found = sorted(folder.glob(f"{dist}-*.whl"))
        if found:
            wheels.append(found[-1])
        else:
            absent.append(module)
    return wheels, absent


# ---- tokenizer -----------------------------------------------------------------------------
def padded_bpe(path: Path, vocab: int) -> int:
    """A BPE trained on the embedded corpus's training documents, as the engine trains one,
    then padded with reserved special tokens to exactly `vocab`: on this corpus the trainer
    runs out of merges at ~25k tokens, and the check must train the baseline's shape
    (a 49,152-row embedding and head). Returns how many tokens were padding."""
    from engine.config import DataConfig
    from engine.corpus import read_documents
    from engine.split import split_documents
    from engine.tokenizer import train_bpe

    data = DataConfig(vocab_size=vocab)
    docs = read_documents(data)
    is_val = split_documents(len(docs), data.val_fraction, data.split_seed, "the embedded corpus")
    tokenizer = train_bpe([doc for doc, val in zip(docs, is_val) if not val], vocab)
    padding = vocab - tokenizer.get_vocab_size()
    tokenizer.add_special_tokens([f"<|reserved_{i}|>" for i in range(padding)])
    assert tokenizer.get_vocab_size() == vocab, tokenizer.get_vocab_size()
    tokenizer.save(str(path))
    return padding


# ---- events --------------------------------------------------------------------------------
def read_events(path: Path) -> list[dict[str, Any]]:
    return list(parse_lines(path.read_text().splitlines())) if path.is_file() else []


def wait_for_step(events: Path, step: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(e["type"] == "step" and e["step"] >= step for e in read_events(events)):
            return True
        if any(e["type"] == "end" for e in read_events(events)):
            return False  # ended (or failed) before reaching it
        time.sleep(0.2)
    return False


def last_step(events: Path) -> int:
    ends = [e for e in read_events(events) if e["type"] == "end"]
    return ends[-1]["step"] if ends else -1


def loss_falls(losses: list[float]) -> tuple[bool, float, float]:
    """(fell, mean of the first steps, mean of the last): windows of a quarter of the run, at most 10."""
    k = max(1, min(10, len(losses) // 4))
    first, last = statistics.fmean(losses[:k]), statistics.fmean(losses[-k:])
    return last <= (1 - LOSS_DROP) * first, first, last


# ---- judging each stage ----------------------------------------------------------------------
def judge_training(run_dir: Path, steps: int, dtype: str | None, vocab: int) -> dict[str, Any]:
    """A finished run: completed at `steps`, in `dtype` (None: not checked, the CPU dry run),
    at `vocab`, with a falling loss."""
    events = read_events(run_dir / EVENTS_FILE)
    starts, ends = [e for e in events if e["type"] == "start"], [e for e in events if e["type"] == "end"]
    steps_seen = [e for e in events if e["type"] == "step"]
    losses = [e["loss"] for e in steps_seen]
    if not starts or not ends or not losses:
        return {"ok": False, "why": f"no start, step or end event in {run_dir / EVENTS_FILE}"}
    start, end = starts[0], ends[-1]
    if None in losses:  # the protocol writes a non-finite loss as null
        return {"ok": False, "why": f"non-finite loss at step {steps_seen[losses.index(None)]['step']}"}
    fell, first, last = loss_falls(losses)
    rates = [e["tokens_per_s"] for e in steps_seen][1:] or [0.0]
    evals = [e["val_loss"] for e in events if e["type"] == "eval"]
    problems = [why for bad, why in [
        (end["status"] != "completed" or end["step"] != steps, f"ended {end['status']} at step {end['step']}"),
        (dtype is not None and start["dtype"] != dtype, f"trained in {start['dtype']}, not {dtype}"),
        (start["vocab_size"] != vocab, f"vocab {start['vocab_size']}, not {vocab}"),
        (not fell, f"loss did not fall by {LOSS_DROP:.0%}: {first:.3f} -> {last:.3f}")] if bad]
    return {"ok": not problems, "why": "; ".join(problems), "dtype": start["dtype"],
            "expert_path": (start.get("expert_path") or {}).get("name"), "params_total": start["params_total"],
            "params_active": start["params_active"], "vocab": start["vocab_size"], "steps": end["step"],
            "loss_first": first, "loss_last": last, "val_loss": evals[-1] if evals else None,
            "tokens_per_s_median": statistics.median(rates), "wall_time": end.get("wall_time")}


def judge_stop_resume(run_dir: Path, steps_after: int) -> dict[str, Any]:
    """Two segments in one run directory: stopped at some step S with a checkpoint, then resumed
    from S to S + steps_after and completed."""
    events = read_events(run_dir / EVENTS_FILE)
    starts, ends = [e for e in events if e["type"] == "start"], [e for e in events if e["type"] == "end"]
    if len(starts) != 2 or len(ends) != 2:
        return {"ok": False, "why": f"{len(starts)} start and {len(ends)} end events, expected 2 and 2"}
    stopped, resumed, done = ends[0], starts[1], ends[1]
    saved = [e["step"] for e in events if e["type"] == "checkpoint"]
    problems = [why for bad, why in [
        (stopped["status"] != "stopped", f"first segment ended {stopped['status']}"),
        (stopped["step"] not in saved, f"no checkpoint at the stop (step {stopped['step']})"),
        (not resumed.get("resumed") or resumed["step"] != stopped["step"],
         f"resumed at step {resumed['step']} (resumed={resumed.get('resumed')}), stopped at {stopped['step']}"),
        (done["status"] != "completed" or done["step"] != stopped["step"] + steps_after,
         f"second segment ended {done['status']} at step {done['step']}")] if bad]
    return {"ok": not problems, "why": "; ".join(problems), "stopped_at": stopped["step"], "ended_at": done["step"],
            "device": resumed.get("device")}


def judge_bench(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"ok": False, "why": f"{path.name} was not written"}
    doc = json.loads(path.read_text())
    paths = {name: {"tokens_per_s": round(p["tokens_per_s"]), "read_every_step": round(p["tokens_per_s_read_every_step"]),
                    "step_ms": round(p["step_ms"], 1), "mfu": p["mfu"], "experts": p["experts"], "dtype": p["dtype"],
                    "params": [p["params_total"], p["params_active"]], "peak_mb": round(p["peak_memory_mb"])}
             for name, p in doc["paths"].items()}
    return {"ok": True, "why": "", "device": doc["device"], "torch": doc["torch"], "vocab": doc["vocab"]["size"],
            "ratios": doc["ratios"], "paths": paths}


# ---- the summary ---------------------------------------------------------------------------
def read_stages(work: Path) -> list[dict[str, Any]]:
    """stages.tsv: one `name<TAB>exit code<TAB>seconds<TAB>what it checks` line per stage run."""
    stages = []
    for line in (work / STAGES_FILE).read_text().splitlines():
        name, code, seconds, what = line.split("\t", 3)
        stages.append({"name": name, "exit_code": int(code), "seconds": float(seconds), "check": what})
    return stages


def judge_stage(stage: dict[str, Any], work: Path, out: Path) -> dict[str, Any]:
    """What a stage's outputs say, beyond its exit code; `check` names the rule and its arguments."""
    kind, *args = stage["check"].split()
    if kind == "train":
        run, steps, dtype, vocab = args
        return judge_training(work / run, int(steps), None if dtype == "-" else dtype, int(vocab))
    if kind == "stop-resume":
        return judge_stop_resume(work / args[0], int(args[1]))
    if kind == "bench":
        return judge_bench(out / args[0])
    lines = (work / "logs" / f"{stage['name']}.log").read_text().splitlines() or [""]
    return {"ok": True, "why": "", "said": lines[-1]}  # kind "log": the exit code decides


def summarize(work: Path, out: Path) -> dict[str, Any]:
    stages = []
    for stage in read_stages(work):
        verdict = judge_stage(stage, work, out) if stage["exit_code"] == 0 else {
            "ok": False, "why": f"exit code {stage['exit_code']}" + (" (timed out)" if stage["exit_code"] == 124 else "")}
        stages.append({**stage, **verdict})
    header = json.loads((work / "machine.json").read_text()) if (work / "machine.json").is_file() else {}
    return {**header, "ok": all(s["ok"] for s in stages), "seconds": sum(s["seconds"] for s in stages),
            "stages": stages}


def render(summary: dict[str, Any]) -> str:
    lines = [f"# GPU check: {'PASS' if summary['ok'] else 'FAIL'}", "",
             *(f"- {key}: {summary[key]}" for key in ("date", "mode", "device", "torch", "python") if key in summary),
             f"- stage time: {summary['seconds']:.0f} s", "", "| stage | result | s | detail |", "|---|---|---|---|"]
    for s in summary["stages"]:
        detail = {k: v for k, v in s.items() if k not in ("name", "ok", "why", "exit_code", "seconds", "check")}
        text = s["why"] or json.dumps(detail, separators=(",", ":"))
        lines.append(f"| {s['name']} | {'ok' if s['ok'] else 'FAIL'} | {s['seconds']:.0f} | {text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "missing-wheels":
        wheels, absent = missing_wheels(Path(args[0]))
        if absent:
            print(f"gpu_check: no wheel in {args[0]} for {', '.join(absent)}: build it with scripts/gpu_wheels.sh",
                  file=sys.stderr)
            return 1
        print("\n".join(map(str, wheels)))
    elif command == "tokenizer":
        padding = padded_bpe(Path(args[0]), int(args[1]))
        print(f"wrote {args[0]}: {args[1]} tokens, {padding} of them reserved padding")
    elif command == "wait-step":
        return 0 if wait_for_step(Path(args[0]), int(args[1]), float(args[2])) else 1
    elif command == "last-step":
        print(last_step(Path(args[0])))
    elif command == "summary":
        work, out = Path(args[0]), Path(args[1])
        summary = summarize(work, out)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out / "summary.md").write_text(render(summary))
        print(render(summary))
        return 0 if summary["ok"] else 1
    else:
        print(f"gpu_check.py: unknown command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
