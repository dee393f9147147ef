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
from tests.report_helpers import ABLATION, LR_SCHEDULE, config, events_lines, write_run, write_seed_study

def report(*args: str):
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def seed_store(runs_dir):
    write_seed_study(runs_dir, "ablation", ABLATION)
    write_seed_study(runs_dir, "lr-schedule", LR_SCHEDULE, created_from=100)
    return runs_dir


def test_a_study_report_in_markdown_has_every_column_and_the_best_config(seed_store):
    result = report("--study", "ablation")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[2] == ("| 1 | combo_grad_dropout | 6.8076 | 14.25% | 904.73 | +6.5% (+0.4709) | better | 12.0 s "
                       "| 492k | 79M / 36.6M | completed | tokens 0.5× of baseline "
                       "| model.dropout: 0.1 → 0.05, train.gradient_accumulation_steps: 4 → 2 |")
    assert rows[-1].startswith("| 6 | baseline | 7.2785 | 11.58% | 1448.82 | baseline |")
    assert "# Study ablation" in result.stdout and "positive = better" in result.stdout
    assert "```toml\n# combo_grad_dropout (run ablation-combo_grad_dropout)" in result.stdout
    assert (seed_store / CACHE_FILE).exists()


def test_csv_json_and_html_files(seed_store, tmp_path):
    out = tmp_path / "r.csv"
    assert report("--study", "ablation", "--format", "csv", "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0]["label"] == "combo_grad_dropout" and round(float(rows[0]["delta_abs"]), 4) == 0.4709
    result = report("--study", "ablation", "--format", "json")
    assert json.loads(result.stdout)["rows"][0]["runs"] == ["ablation-combo_grad_dropout"]
    page = tmp_path / "r.html"
    assert report("--study", "ablation", "-f", "html", "-o", str(page)).exit_code == 0
    text = page.read_text()
    assert "<svg" in text and "<table>" in text and not re.search(r"https?://", text)


def test_markdown_with_a_chart_beside_it(seed_store, tmp_path):
    out, chart = tmp_path / "report.md", tmp_path / "curves.svg"
    assert report("--study", "ablation", "--out", str(out), "--chart", str(chart)).exit_code == 0
    assert "![val loss curves](curves.svg)" in out.read_text()
    assert chart.read_text().count("<polyline") == 6


def test_the_journey_across_the_two_seed_studies(seed_store):
    result = report("--journey", "ablation", "lr-schedule")
    assert result.exit_code == 0, result.output
    assert "| Val loss | 7.2785 | 6.8076 | 6.7358 | +7.5% (+0.5427) |" in result.stdout
    assert "| Val accuracy | 11.58% | 14.25% | 14.97% | +29.3% (+3.39 pp) |" in result.stdout
    assert "| Val perplexity | 1448.82 | 904.73 | 841.98 | +41.9% (+606.84) |" in result.stdout


def test_at_step_compares_every_run_at_the_same_step(seed_store):
    result = report("--study", "ablation", "--at-step", "15", "-f", "json")
    data = json.loads(result.stdout)
    assert data["at_step"] == 15
    best = data["rows"][0]
    assert best["label"] == "combo_grad_dropout" and best["val_loss"] == pytest.approx(6.8076 + 0.5)
    assert best["steps"] == 10 and best["tokens"] == 10 * 24 * 2 * 512


def test_the_terminal_plot(seed_store):
    result = report("--study", "ablation", "--plot")
    assert result.exit_code == 0 and "val loss" in result.stdout.split("```")[-1]


def test_broken_runs_are_flagged_not_fatal(runs_dir):
    cfg = config([])
    lines = events_lines(cfg, [(10, 7.5, 0.08, 1800.0), (20, 7.2, 0.11, 1340.0)])
    write_run(runs_dir, "base", cfg, lines, variant="baseline", created=1)
    write_run(runs_dir, "cut", cfg, lines[:15] + [lines[22][:30]], status="running", created=2)
    empty = write_run(runs_dir, "empty", cfg, [], status="failed", created=3)
    (empty / "events.jsonl").unlink()
    result = report("-f", "csv")
    assert result.exit_code == 0, result.output
    rows = {r["label"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["cut"]["val_loss"] == "7.5" and "crashed" in rows["cut"]["flags"]  # "running", with no engine
    assert rows["empty"]["rank"] == "" and "no events" in rows["empty"]["flags"]


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

    result = report("-f", "json")
    assert result.exit_code == 0, result.output
    rows = {row["label"]: row for row in json.loads(result.stdout)["rows"]}
    dropout = rows["dropout"]
    assert dropout["val_loss"] == 7.0 and dropout["val_loss_std"] is None and dropout["verdict"] == "better"
    assert dropout["runs"] == ["drop-1", "drop-2", "drop-3"] and dropout["status"] == "2 damaged, 1 completed"
    assert "config.toml: not utf-8 text (byte 0xe9 at offset 5)" in dropout["flags"]
    assert "events.jsonl: Is a directory" in dropout["flags"]
    assert rows["broken"]["status"] == "damaged" and rows["broken"]["val_loss"] is None
    assert rows["broken"]["flags"] == ["damaged", "run.json: pid is 'abc', expected int"]


@pytest.mark.parametrize("args, message", [
    (["--study", "ablation", "--baseline", "combo_grad_dropuot"], "did you mean 'combo_grad_dropout'"),
    (["--study", "nope"], "study 'nope' has no runs in this store (studies: ablation, lr-schedule)"),
    (["no-such-run"], "no-such-run"),
    (["--format", "pdf"], "unknown format 'pdf'"),
    (["--chart", "c.png"], "give a path ending in .svg"),
    (["--metric", "val_acc"], "did you mean 'val_accuracy'"),
    (["--metric", "bpb"], "unknown metric 'bpb' (metrics: val_loss, val_accuracy, val_perplexity)"),
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


def test_a_report_to_a_file_loads_no_torch_and_no_terminal_renderer(seed_store):
    """Start-up is part of the report's time: torch never loads, and Rich Markdown and plotext
    only for a table in the terminal or --plot."""
    code = ("import sys\nfrom moetui.cli import app\n"
            "app(['report', '--study', 'ablation', '--format', 'md'], standalone_mode=False)\n"
            "print(sorted(m for m in ('torch', 'numpy', 'plotext', 'rich.markdown') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "| baseline |" in out and out.splitlines()[-1] == "[]"


def test_an_empty_store_says_so(runs_dir):
    result = report()
    assert result.exit_code == 1 and "no runs selected" in result.stderr
