"""The command line without training: listings, resolved configs, help generated from the
schema, and every kind of bad input ending in one line, exit 1 and an untouched store."""

from __future__ import annotations

import tomllib

import pytest

from engine.config import Config, iter_fields
from moetui.presets import list_presets, load_preset
from moetui.runs import RunStore
from tests.cli_helpers import moetui


@pytest.fixture
def broken_preset(tmp_path, monkeypatch):
    folder = tmp_path / "user-presets"
    folder.mkdir()
    (folder / "broken.toml").write_text('description = "oops"\n[train]\nbatch_size = = 3\nmax_steps = 10\n')
    (folder / "orphan.toml").write_text('description = "on a preset that is gone"\nextends = "quikc"\n')
    monkeypatch.setenv("MOETUI_PRESETS", str(folder))


BAD_INPUT = {
    "unknown preset": (["run", "quik"], "unknown preset 'quik'; did you mean 'quick'?"),
    "override without =": (["run", "quick", "--set", "model.d_model"], "expected section.key=value"),
    "unknown key": (["run", "quick", "--set", "model.d_modle=3"], "unknown key; did you mean 'model.d_model'?"),
    "key in the wrong section": (["run", "quick", "--set", "train.dropout=0"], "did you mean 'model.dropout'?"),
    "out of range": (["run", "quick", "--set", "model.dropout=2"], "model.dropout = 2: must be <= 0.9"),
    "wrong type": (["run", "quick", "--set", "train.max_steps=ten"], "train.max_steps = 'ten': expected int"),
    "cross-field rule": (["run", "quick", "--set", "moe.top_k=5"], "moe.top_k = 5: must be <= moe.num_experts (4)"),
    "TOML syntax error": (["run", "broken"], "broken.toml: toml: TOML syntax error"),
    "extends an unknown preset": (["run", "orphan"], "orphan.toml: extends unknown preset 'quikc'; did you mean"),
    "bad GPU list": (["run", "quick", "--gpus", "zero"], "GPU 'zero' is not a device index"),
    "unknown study": (["study", "ablaton"], "unknown study 'ablaton'; did you mean 'ablation'?"),
    "bad seeds": (["study", "ablation", "--seeds", "1,two"], "--seeds '1,two': expected whole numbers"),
    "bad base": (["study", "ablation", "--base", "quik"], "unknown preset 'quik'"),
    "unknown run (show)": (["show", "nope"], "no run 'nope'"),
    "unknown run (logs)": (["logs", "nope"], "no run 'nope'"),
    "unknown run (stop)": (["stop", "nope"], "no run 'nope'"),
    "unknown run (resume)": (["resume", "nope"], "no run 'nope'"),
    "unknown run (rm)": (["rm", "nope", "--yes"], "no run 'nope'"),
    "unknown status": (["ls", "--status", "done"], "--status 'done': not a run status"),
    "config of an unknown preset": (["config", "quik"], "unknown preset 'quik'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_exit_1_and_writes_nothing(case, runs_dir, broken_preset):
    argv, expected = BAD_INPUT[case]
    result = moetui(*argv)
    assert result.exit_code == 1
    assert result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("moetui: ") and "Traceback" not in line
    assert expected in line
    assert list(runs_dir.iterdir()) == []


def test_the_toml_syntax_error_says_which_line(runs_dir, broken_preset):
    assert "(at line 3, column 14)" in moetui("config", "broken").stderr


def _finished_run(runs_dir):
    store = RunStore(runs_dir)
    record = store.create(load_preset("quick")[0], name="done", preset="quick")
    store.update(record.id, status="completed", ended=1.0, exit_reason="finished 200 steps")
    return store, record


def test_stopping_or_resuming_a_completed_run_says_why_and_changes_nothing(runs_dir):
    """Its checkpoint is at max_steps: a resume would only restart the engine to rewrite the record."""
    store, record = _finished_run(runs_dir)
    (record.path / "checkpoint.pt").write_bytes(b"at max_steps")
    before = (record.path / "run.json").read_bytes()
    stopped = moetui("stop", "done")
    assert stopped.exit_code == 1
    assert stopped.stderr.strip() == "moetui: run done is not running (status completed); nothing to stop"
    resumed = moetui("resume", "done")
    assert resumed.exit_code == 1
    assert resumed.stderr.strip() == ("moetui: run done already completed; nothing to resume; to train longer, "
                                      f"continue it as a new run: moetui continue {record.id} --steps N")
    assert (record.path / "run.json").read_bytes() == before
    assert sorted(p.name for p in record.path.iterdir()) == ["checkpoint.pt", "config.toml", "run.json",
                                                             "run.json.lock"]


def test_resuming_a_run_without_a_checkpoint_says_how_to_start_it_again(runs_dir):
    store, record = _finished_run(runs_dir)
    store.update(record.id, status="stopped")
    resumed = moetui("resume", "done")
    assert resumed.exit_code == 1
    assert resumed.stderr.strip() == ("moetui: run done has no checkpoint to resume from (status stopped); start a "
                                      f"new run from its config: moetui run {record.path / 'config.toml'} --name done")


def test_a_store_path_that_is_a_file_is_one_line(runs_dir, tmp_path):
    taken = tmp_path / "not-a-dir"
    taken.write_text("notes")
    result = moetui("run", "quick", "--runs-dir", str(taken))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr == (f"moetui: cannot keep runs in {taken}: not a directory; "
                             "choose another store with --runs-dir or $MOETUI_RUNS\n")
    assert taken.read_text() == "notes" and list(runs_dir.iterdir()) == []


def test_show_prints_the_record_and_the_full_config(runs_dir):
    store, record = _finished_run(runs_dir)
    result = moetui("show", "done")
    assert result.exit_code == 0
    assert "completed" in result.stdout and "finished 200 steps" in result.stdout
    assert "changes from preset  none" in result.stdout
    config_text = result.stdout.split(f"# config ({record.path / 'config.toml'})\n", 1)[1]
    assert Config.from_dict(tomllib.loads(config_text)) == store.config(record.id)


def test_ls_filters_by_status_and_study(runs_dir):
    store, done = _finished_run(runs_dir)
    queued = store.create(load_preset("quick")[0], name="waiting", preset="quick", study="s1", variant="v")
    assert queued.id in moetui("ls", "--status", "queued").stdout
    assert done.id not in moetui("ls", "--status", "queued").stdout
    assert done.id in moetui("ls", "--status", "completed").stdout
    assert queued.id in moetui("ls", "--study", "s1").stdout and done.id not in moetui("ls", "--study", "s1").stdout
    assert moetui("ls", "--study", "s2").stderr == "no runs match\n"


def test_ls_keeps_one_line_per_run_in_80_columns(runs_dir, monkeypatch):
    """Too narrow for every column, it leaves out name and study/variant (the id ends with
    the name) rather than folding them into columns one letter wide."""
    store = RunStore(runs_dir)
    run = store.create(load_preset("quick")[0], name="architecture-Top3Experts-s42", preset="quick",
                       study="architecture", variant="Top3Experts")
    monkeypatch.setenv("COLUMNS", "80")
    narrow = moetui("ls").stdout.splitlines()
    assert narrow[0].split() == ["id", "status", "step", "val", "loss"] and narrow[1].split()[0] == run.id
    assert len(narrow) == 2
    monkeypatch.setenv("COLUMNS", "160")
    wide = moetui("ls").stdout.splitlines()
    assert wide[1].split()[:3] == [run.id, run.name, "architecture/Top3Experts"]


def test_rm_asks_first_and_deletes_on_yes(runs_dir):
    store, record = _finished_run(runs_dir)
    refused = moetui("rm", "done", input="n\n")
    assert refused.exit_code == 1 and record.path.is_dir()
    assert moetui("rm", record.id[:10], input="y\n").exit_code == 0
    assert store.list() == []


def test_presets_lists_every_preset_and_study(runs_dir):
    result = moetui("presets")
    assert result.exit_code == 0
    for name in ("quick", "baseline", "optimized", "ablation", "lr-schedule", "reasoning", "architecture",
                 "components"):
        assert name in result.stdout


def test_config_prints_the_resolved_preset_as_a_usable_toml(runs_dir, tmp_path):
    result = moetui("config", "baseline", "--set", "model.dropout=0.05", "--set", "train.max_steps=40")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith("# Blueberry MoE baseline")  # the description, as a comment
    expected = load_preset("baseline")[0].apply_overrides(["model.dropout=0.05", "train.max_steps=40"])
    assert Config.from_toml(result.stdout) == expected
    saved = tmp_path / "mine.toml"
    saved.write_text(result.stdout)
    assert Config.from_toml(moetui("config", str(saved)).stdout) == expected


@pytest.mark.parametrize("preset", sorted(list_presets()))
def test_config_output_is_what_the_engine_reads(preset, tmp_path):
    """`python -m engine --config FILE` loads FILE with engine.lifecycle.load_config."""
    from engine.lifecycle import load_config

    result = moetui("config", preset, "--set", "train.seed=7")
    assert result.exit_code == 0
    saved = tmp_path / "config.toml"
    saved.write_text(result.stdout)
    assert load_config(saved) == load_preset(preset)[0].apply_overrides(["train.seed=7"])


def test_a_description_full_of_markup_and_control_characters_stays_a_comment(tmp_path, monkeypatch):
    folder = tmp_path / "user-presets"
    folder.mkdir()
    (folder / "odd.toml").write_text('description = "[/x] first\\nsecond\\u0007 [b]bold"\n[train]\nmax_steps = 5\n')
    monkeypatch.setenv("MOETUI_PRESETS", str(folder))
    printed = moetui("config", "odd", "--set", "model.dropout=0.2")
    assert printed.stdout.splitlines()[:3] == ["# odd with model.dropout=0.2", "# [/x] first", "# second\\x07 [b]bold"]
    assert Config.from_toml(printed.stdout).train.max_steps == 5
    listed = moetui("presets")
    assert listed.exit_code == 0 and "[/x] first" in listed.stdout


def test_help_lists_every_config_key_from_the_schema(runs_dir):
    for command in ("run", "study", "config"):
        text = moetui(command, "--help").stdout
        for spec in iter_fields():
            assert spec.key in text, (command, spec.key)
    run_help = " ".join(moetui("run", "--help").stdout.split())  # undo the terminal's wrapping
    assert "moe.num_experts int 1..512 = 8 Experts per MoE layer; 1 = a dense FFN" in run_help


def test_ls_on_an_empty_store_says_so_and_creates_nothing(tmp_path):
    result = moetui("ls", "--runs-dir", str(tmp_path / "fresh"))
    assert result.exit_code == 0 and "no runs" in result.stderr
    assert not (tmp_path / "fresh").exists()
