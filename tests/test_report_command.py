"""`moetui report` over a run store written from the seed reports' figures."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from moetui.cli import app
from moetui.report.cache import CACHE_FILE
from tests.report_helpers import config, events_lines, write_run, write_seed_study


def report(*args: str):
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def seed_store(runs_dir):
    write_seed_study(runs_dir, "ablation")
    write_seed_study(runs_dir, "lr-schedule", created_from=100)
    return runs_dir


def _adhoc(runs_dir, run_id, overrides=(), losses=(7.5, 7.2), seed=42, status="completed", created=0.0, **kw):
    cfg = config(list(overrides), seed)
    evals = [(10, losses[0], 0.08, 1800.0), (20, losses[1], 0.11, 1340.0)]
    write_run(runs_dir, run_id, cfg, events_lines(cfg, evals, status=status), status=status, created=created, **kw)


def test_a_study_report_in_markdown_uses_the_declared_baseline_and_names_the_best(seed_store):
    result = report("--study", "ablation")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[2].startswith("| 1 | combo_grad_dropout | n=1 | 6.8076 | 14.25% | 904.73 | +6.5% (+0.4709) | – "
                              "| single seed: no noise estimate | 10 | 246k |")
    assert rows[-1].startswith("| 6 | baseline | n=1 | 7.2785 | 11.58% | 1448.82 | baseline |")
    assert "# Study ablation" in result.stdout and "positive = better" in result.stdout
    assert "Baseline: baseline, declared by study ablation." in result.stdout
    assert "```toml\n# combo_grad_dropout (run ablation-combo_grad_dropout-42)" in result.stdout
    assert (seed_store / CACHE_FILE).exists()


def test_csv_json_and_html_files(seed_store, tmp_path):
    out = tmp_path / "r.csv"
    assert report("--study", "ablation", "--format", "csv", "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["level"] for r in rows] == ["variant"] * 6 + ["run"] * 6
    assert rows[0]["label"] == "combo_grad_dropout" and round(float(rows[0]["delta_abs"]), 4) == 0.4709
    data = json.loads(report("--study", "ablation", "--format", "json").stdout)
    assert data["rows"][0]["runs"] == ["ablation-combo_grad_dropout-42"] and len(data["runs"]) == 6
    page = tmp_path / "r.html"
    assert report("--study", "ablation", "-f", "html", "-o", str(page)).exit_code == 0
    text = page.read_text()
    assert "<svg" in text and "<table>" in text and not re.search(r"https?://", text)


def test_markdown_with_a_chart_beside_it(seed_store, tmp_path):
    out, chart = tmp_path / "report.md", tmp_path / "curves.svg"
    assert report("--study", "ablation", "--out", str(out), "--chart", str(chart)).exit_code == 0
    assert "![val loss curves](curves.svg)" in out.read_text()
    svg = chart.read_text()
    assert svg.count("<polyline") + svg.count("<circle") == 6  # one curve or marker per run


def test_the_baseline_name_ignores_case_and_alpha_is_an_option(seed_store):
    result = report("--study", "ablation", "--baseline", "GRAD_ACCUM_2", "-f", "json", "--alpha", "0.01")
    data = json.loads(result.stdout)
    assert data["baseline"] == "grad_accum_2" and data["baseline_choice"] == "named with --baseline"
    assert data["alpha"] == 0.01


def test_a_study_with_no_declared_baseline_refuses_and_lists_the_candidates(runs_dir):
    """No guess: the earliest run is not a baseline."""
    _adhoc(runs_dir, "a", study="mystery", variant="first")
    _adhoc(runs_dir, "b", ["model.dropout=0.0"], study="mystery", variant="second", created=1.0)
    result = report("--study", "mystery")
    assert result.exit_code == 1
    assert "study 'mystery': its study file cannot be read (unknown study 'mystery')" in result.stderr
    assert "name the baseline with --baseline (variants: first, second)" in result.stderr
    assert report("--study", "mystery", "--baseline", "second").exit_code == 0


def test_runs_named_as_arguments_compare_against_the_first_named(runs_dir):
    _adhoc(runs_dir, "old", losses=(7.5, 7.0))
    _adhoc(runs_dir, "new", ["model.dropout=0.0"], losses=(7.4, 6.9), created=1.0)
    data = json.loads(report("new", "old", "-f", "json").stdout)
    assert data["baseline"] == "new" and data["baseline_choice"] == "the first run named"
    assert "Baseline: new, the first run named." in report("new", "old").stdout


def test_at_step_compares_every_run_at_the_same_step_and_counts_live_runs_that_reached_it(runs_dir):
    _adhoc(runs_dir, "base", losses=(7.5, 7.2), variant="baseline")
    _adhoc(runs_dir, "live", ["model.dropout=0.0"], losses=(7.3, 7.0), status="running", created=1.0)
    data = json.loads(report("base", "live", "--at-step", "15", "-f", "json").stdout)
    assert data["at_step"] == 15
    live = next(row for row in data["rows"] if row["label"] == "live")
    assert live["val_loss"] == 7.3 and live["step"] == 10 and live["tokens"] == 10 * 24 * 4 * 512
    assert live["n"] == 0 and live["verdict"] == "not counted"  # "running" without an engine is crashed


def test_the_terminal_plot(seed_store):
    result = report("--study", "ablation", "--plot")
    assert result.exit_code == 0 and "val loss" in result.stdout.split("```")[-1]


def test_broken_runs_are_flagged_not_fatal(runs_dir):
    cfg = config([])
    lines = events_lines(cfg, [(10, 7.5, 0.08, 1800.0), (20, 7.2, 0.11, 1340.0)])
    write_run(runs_dir, "base", cfg, lines, created=1)
    cut = config(["model.dropout=0.0"])
    cut_lines = events_lines(cut, [(10, 7.5, 0.08, 1800.0), (20, 7.2, 0.11, 1340.0)])
    write_run(runs_dir, "cut", cut, cut_lines[:3] + [cut_lines[3][:30]], status="running", created=2)
    empty = write_run(runs_dir, "empty", config(["model.dropout=0.2"]), [], status="failed", created=3)
    (empty / "events.jsonl").unlink()
    result = report("-f", "csv")
    assert result.exit_code == 0, result.output
    rows = {r["label"]: r for r in csv.DictReader(io.StringIO(result.stdout)) if r["level"] == "variant"}
    assert rows["cut"]["val_loss"] == "7.5" and rows["cut"]["status"] == "crashed"  # "running", with no engine
    assert rows["cut"]["verdict"] == "not counted" and rows["cut"]["rank"] == "2"
    assert rows["empty"]["rank"] == "" and "no events" in rows["empty"]["flags"]
    assert "the earliest run" in report().stdout  # nothing named: the footer says how the baseline was chosen


def test_damaged_runs_are_listed_with_their_reason_and_never_counted(runs_dir):
    """Three seeds of one variant: one sound, one whose config.toml is not UTF-8, one whose
    events.jsonl is a directory. Both damaged runs are in the row and flagged with why; the
    statistics are the sound seed's alone. A run whose run.json is damaged is its own row."""
    base = config([])
    write_run(runs_dir, "base", base, events_lines(base, [(20, 7.2, 0.11, 1340.0)]), study="s", variant="baseline")
    for seed, loss in ((1, 7.0), (2, 1.0), (3, 1.0)):
        cfg = config(["model.dropout=0.05"], seed=seed)
        write_run(runs_dir, f"drop-{seed}", cfg, events_lines(cfg, [(20, loss, 0.2, 1000.0)]), study="s",
                  variant="dropout", created=seed)
    (runs_dir / "drop-2" / "config.toml").write_bytes(b"# caf\xe9\n")
    (runs_dir / "drop-3" / "events.jsonl").unlink()
    (runs_dir / "drop-3" / "events.jsonl").mkdir()
    broken = write_run(runs_dir, "broken", base, events_lines(base, [(20, 1.0, 0.5, 3.0)]), study="s")
    (broken / "run.json").write_text('{"pid": "abc"}')

    result = report("--study", "s", "--baseline", "baseline", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = {row["label"]: row for row in json.loads(result.stdout)["rows"]}
    dropout = rows["dropout"]
    assert dropout["val_loss"] == 7.0 and dropout["val_loss_std"] is None and dropout["n"] == 1
    assert dropout["runs"] == ["drop-1", "drop-2", "drop-3"] and dropout["status"] == "2 damaged, 1 completed"
    assert "config.toml: not utf-8 text (byte 0xe9 at offset 5)" in dropout["flags"]
    assert "events.jsonl: Is a directory" in dropout["flags"]
    everything = {row["label"]: row for row in json.loads(report("-f", "json").stdout)["rows"]}
    assert everything["broken"]["status"] == "damaged" and everything["broken"]["val_loss"] is None
    assert everything["broken"]["flags"] == ["run.json: pid is 'abc', expected int"]


@pytest.mark.parametrize("args, message", [
    (["--study", "ablation", "--baseline", "combo_grad_dropuot"], "did you mean 'combo_grad_dropout'"),
    (["--study", "nope"], "study 'nope' has no runs in this store (studies: ablation, lr-schedule)"),
    (["no-such-run"], "no-such-run"),
    (["--format", "pdf"], "unknown format 'pdf'"),
    (["--chart", "c.png"], "give a path ending in .svg"),
    (["--study", "ablation", "--metric", "val_acc"], "did you mean 'val_accuracy'"),
    (["--study", "ablation", "--metric", "bpb"],
     "unknown metric 'bpb' (metrics: val_loss, val_accuracy, val_perplexity)"),
    (["--study", "ablation", "--alpha", "1.5"], "--alpha 1.5: give a significance level between 0 and 1"),
    (["--journey"], "--journey needs the studies in order"),
    (["--journey", "ablation", "lr-schedule", "--baseline", "zzz"], "study 'ablation': baseline 'zzz'"),
    (["--journey", "ablation", "--study", "lr-schedule", "--plot"], "--journey does not take --study, --plot"),
])
def test_bad_input_gets_one_clear_line_and_a_non_zero_exit(seed_store, args, message):
    result = report(*args)
    assert result.exit_code != 0
    assert message in result.stderr and "Traceback" not in result.output


def test_an_unwritable_output_names_the_path_the_person_gave(seed_store, tmp_path):
    missing = tmp_path / "no" / "such" / "report.md"
    result = report("--study", "ablation", "--out", str(missing))
    assert result.exit_code == 1
    assert result.stderr == f"moetui report: cannot write {missing}: No such file or directory\n"
    chart = tmp_path / "no" / "curves.svg"
    result = report("--study", "ablation", "--chart", str(chart))
    assert result.exit_code == 1
    assert result.stderr == f"moetui report: cannot write {chart}: No such file or directory\n"
    result = report("--study", "ablation", "--out", str(tmp_path))
    assert result.stderr == f"moetui report: cannot write {tmp_path}: it is a directory; give a file path\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # no temporary file left behind


def test_a_report_to_a_file_loads_no_torch_no_scipy_and_no_terminal_renderer(seed_store):
    """Start-up is part of the report's time: torch never loads, scipy only when some variant
    has seeds to test, Rich Markdown and plotext only for a table in the terminal or --plot."""
    code = ("import sys\nfrom moetui.cli import app\n"
            "app(['report', '--study', 'ablation', '--format', 'md'], standalone_mode=False)\n"
            "print(sorted(m for m in ('torch', 'numpy', 'scipy', 'plotext', 'rich.markdown') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "| baseline |" in out and out.splitlines()[-1] == "[]"


def test_an_empty_store_says_so(runs_dir):
    result = report()
    assert result.exit_code == 1 and "no runs selected" in result.stderr
