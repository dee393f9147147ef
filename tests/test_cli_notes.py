"""Notes and tags: given at launch (`--note`, `--tag`), changed afterwards (`moetui note`,
`moetui tag`), kept in run.json, and a hand-edited run.json with tags of the wrong shape
makes one damaged run, not a broken listing."""

from __future__ import annotations

import json

import pytest

from moetui import notes, scheduler
from moetui.presets import load_study
from moetui.runs import RunStore, record_problem
from tests.cli_helpers import moetui


@pytest.fixture
def no_scheduler(monkeypatch):
    """Queued runs stay queued: these tests are about the records, not training."""
    monkeypatch.setattr(scheduler, "ensure_scheduler", lambda store, gpus=None: None)


def test_a_queued_run_keeps_its_note_and_tags_and_they_change_later(runs_dir, no_scheduler):
    result = moetui("run", "quick", "--queue", "--note", "first try at lr 0.05", "--tag", "smoke", "-t", "#cpu")
    assert result.exit_code == 0, result.stderr
    record = RunStore(runs_dir).get("quick")
    assert (record.notes, record.tags) == ("first try at lr 0.05", ["smoke", "cpu"])

    assert moetui("note", "quick", "loss flat after step 50").stdout == "loss flat after step 50\n#smoke #cpu\n"
    assert moetui("tag", "quick", "fig2", "smoke").stdout == "#smoke #cpu #fig2\n"  # smoke once
    assert moetui("tag", "quick", "--remove", "#smoke").stdout == "#cpu #fig2\n"
    assert moetui("note", "quick", "").stdout == "(no note)\n#cpu #fig2\n"
    data = json.loads((record.path / "run.json").read_text())
    assert (data["notes"], data["tags"]) == (None, ["cpu", "fig2"])


@pytest.mark.parametrize("tag", ["two words", "", "a,b", "x" * 33])
def test_a_tag_that_is_not_one_short_word_is_refused_before_anything_is_written(runs_dir, no_scheduler, tag):
    result = moetui("run", "quick", "--queue", "--tag", tag)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"moetui: tag {tag!r}: use one word")
    assert list(runs_dir.iterdir()) == []


def test_a_study_queued_with_a_note_and_a_tag_gives_them_to_every_run(runs_dir, no_scheduler):
    result = moetui("study", "components", "--base", "quick", "--note", "dense check", "--tag", "dense")
    assert result.exit_code == 0, result.stderr
    records = RunStore(runs_dir).list()
    assert len(records) == len(load_study("components").variants)
    assert all(r.notes == "dense check" and r.tags == ["dense"] for r in records)


def test_note_and_tag_name_an_unknown_run_in_one_line(runs_dir):
    for args in (["note", "nope", "x"], ["tag", "nope", "x"]):
        result = moetui(*args)
        assert result.exit_code == 1 and result.stderr.startswith("moetui: no run 'nope'")


@pytest.mark.parametrize("tags, ok", [(None, True), ([], True), (["a", "b"], True), ("a", False), ([1], False),
                                      ([["a"]], False), ({"a": 1}, False)])
def test_run_json_tags_must_be_a_list_of_strings(tags, ok):
    problem = record_problem({"name": "r", "tags": tags})
    assert (problem is None) == ok
    if not ok:
        assert "tags is" in problem and "expected a list of strings" in problem


def test_tags_typed_in_one_line_are_split_cleaned_and_kept_once():
    assert notes.parse_tags(" baseline, #fig2  lr-sweep,baseline ") == ["baseline", "fig2", "lr-sweep"]
    assert notes.retag(["a", "b"], add=["#c", "a"], remove=["b"]) == ["a", "c"]
    assert notes.label("lr too high\nsee step 300", ["fig2"]) == "#fig2 lr too high"
    assert notes.label(None, []) == ""


def test_show_prints_a_runs_notes_and_tags(runs_dir, no_scheduler):
    moetui("run", "quick", "--queue", "--note", "baseline for fig 2", "--tag", "fig2")
    shown = moetui("show", "quick").stdout
    assert "notes / tags" in shown and "baseline for fig 2 #fig2" in shown
