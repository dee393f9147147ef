"""One damaged run never breaks the store.

A real store is built once: a tiny run through the engine (the victim) and a healthy
neighbour, both of one study. Each case copies it, damages one file of the victim in one
way (cut in half, emptied, random bytes, valid JSON or TOML of the wrong shape or types,
missing, a directory in its place), then does what a person would: ls, show, logs, report,
resume, stop, a scheduler tick and rm. Every command must end cleanly (exit 0, or 1 with
one `moetui` line: never a traceback), the victim must be shown for what it is, and the
neighbour's files must stay byte for byte. The TUI starts once on a store holding a victim
per damage that reaches it, shows each as a row, opens them and compares them all.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Callable

import pytest

from engine.rundir import CHECKPOINT_FILE, CONFIG_FILE, EVENTS_FILE, LOG_FILE, RUN_FILE
from moetui.runs import RunStore
from moetui.scheduler import Scheduler
from moetui.tui import create_app
from moetui.tui.screens.compare import CompareScreen
from moetui.tui.screens.run import RunScreen
from moetui.tui.widgets.runs_table import RunsTable
from tests.cli_helpers import fast_sets, moetui, wait_for
from tests.tui_pilot import scenario, until

pytestmark = pytest.mark.slow

STUDY = "fuzz"
Damage = Callable[[Path], None]


def _half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _random(path: Path) -> None:
    path.write_bytes(random.Random(path.name).randbytes(512))


def _missing(path: Path) -> None:
    path.unlink()


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("a file where the run's file should be\n")


def _text(content: str | bytes) -> Damage:
    data = content.encode() if isinstance(content, str) else content
    return lambda path: path.write_bytes(data)


def _prepend(data: bytes) -> Damage:
    return lambda path: path.write_bytes(data + path.read_bytes())


def _record(**fields: object) -> Damage:
    """run.json still valid JSON, with some fields changed (to wrong types)."""
    def damage(path: Path) -> None:
        path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))
    return damage


def _events(*events: dict, keep: bool = False) -> Damage:
    """events.jsonl replaced by (or, with `keep`, followed by) these events."""
    def damage(path: Path) -> None:
        lines = "".join(json.dumps(e, allow_nan=True) + "\n" for e in events)
        path.write_text((path.read_text() if keep else "") + lines)
    return damage


GENERIC: dict[str, Damage] = {"half": _half, "empty": _empty, "random": _random, "missing": _missing,
                              "directory": _directory}
WRONG_TYPED_EVENTS = (
    {"v": 1, "type": "start", "t": "x", "step": "0", "config": [], "params_total": "x", "params_active": 1.5,
     "max_steps": "10", "device": 5, "resumed": "yes"},
    {"v": 1, "type": "prepare", "stage": 5, "done": "x", "total": []},
    {"v": 1, "type": "step", "step": "abc", "loss": "x"},
    {"v": 1, "type": "step", "step": 1, "loss": "x", "tokens": 1.5, "elapsed": "x", "tokens_per_s": "fast"},
    {"v": 1, "type": "eval", "step": 1, "val_loss": "x", "val_perplexity": [], "val_accuracy": {}},
    {"v": 1, "type": "experts", "step": "1", "load": 5},
    {"v": 1, "type": "experts", "step": 1, "load": [[1, "a"]]},
    {"v": 1, "type": "experts", "step": 1, "load": [[]]},
    {"v": 1, "type": "checkpoint", "step": "x", "path": 5},
    {"v": 1, "type": "error", "t": "late", "kind": 5, "message": 5, "hint": []},
    {"v": 1, "type": "end", "step": "3", "status": 5, "metrics": [], "wall_time": "x"},
)
NON_FINITE_EVENTS = (  # JSON's NaN and Infinity, which Python's json reads as floats
    {"v": 1, "type": "step", "step": 4, "loss": float("nan"), "elapsed": float("inf"), "tokens_per_s": float("inf")},
    {"v": 1, "type": "experts", "step": 4, "load": [[float("nan"), float("inf")]]},
    {"v": 1, "type": "end", "step": 4, "status": "completed", "metrics": {"tokens": float("inf")},
     "wall_time": float("inf")},
)
SPECIFIC: dict[str, dict[str, Damage]] = {
    RUN_FILE: {
        "list": _text("[]"), "null": _text("null"), "brief-types": _text('{"pid": "abc", "status": 5, "created": "x"}'),
        "pid-text": _record(pid="abc"), "name-number": _record(name=5), "status-number": _record(status=5),
        "status-unknown": _record(status="exploded"), "created-text": _record(created="yesterday"),
        "created-nan": _record(created=float("nan")), "ended-far": _record(ended=1e300),  # a valid number, no time
        "queued-order-text": _record(status="queued", queue_order="first"),
        "name-markup": _record(name="[/b]victim["),  # a valid record whose name looks like markup
    },
    CONFIG_FILE: {"latin-1": _prepend(b"# caf\xe9\n"), "not-toml": _text("[[[ = =\n"),
                  "wrong-shape": _text("model = 5\n"), "wrong-types": _text('[model]\nd_model = "big"\n')},
    EVENTS_FILE: {"wrong-shape": _text('[]\nnull\n5\n"step"\n{}\n{"type": 5}\n'),
                  "wrong-types": _events(*WRONG_TYPED_EVENTS),
                  "wrong-types-late": _events(*WRONG_TYPED_EVENTS, keep=True),
                  "non-finite": _events(*NON_FINITE_EVENTS, keep=True)},
    LOG_FILE: {"not-utf8": _text(b"\xff\xfe\x00 not text\n")},
    CHECKPOINT_FILE: {},
}
CASES = [(file, damage) for file, specific in SPECIFIC.items() for damage in [*GENERIC, *specific]]

# What each case must look like to a person.
UNLISTED = {(RUN_FILE, "missing")}  # no run.json: a run still being created, not a run yet
NOT_DAMAGED_RECORDS = {"missing", "name-markup", "ended-far"}
CONFIG_UNREADABLE = {"missing", "directory", "random", "latin-1", "not-toml", "wrong-shape", "wrong-types"}
# The TUI shows every run.json damage as a row; it opens the victims whose damage reaches the
# run view by another path (every run.json damage but these few only changes the reason).
OPENED = [(CONFIG_FILE, "latin-1"), (CONFIG_FILE, "directory"), (EVENTS_FILE, "directory"),
          (EVENTS_FILE, "wrong-types"), (EVENTS_FILE, "wrong-types-late"), (EVENTS_FILE, "non-finite"),
          (LOG_FILE, "directory"), (LOG_FILE, "not-utf8"), (RUN_FILE, "half"), (RUN_FILE, "list"),
          (RUN_FILE, "brief-types"), (RUN_FILE, "name-markup")]
TUI_CASES = ([(RUN_FILE, damage) for damage in [*GENERIC, *SPECIFIC[RUN_FILE]]]
             + [case for case in OPENED if case[0] != RUN_FILE])


def record_damaged(file: str, damage: str) -> bool:
    return file == RUN_FILE and damage not in NOT_DAMAGED_RECORDS


def report_damaged(file: str, damage: str) -> bool:
    """Damage that makes the report list the victim as damaged, out of every statistic."""
    return (record_damaged(file, damage) or (file == CONFIG_FILE and damage in CONFIG_UNREADABLE)
            or (file, damage) == (EVENTS_FILE, "directory"))


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory, token_cache_dir) -> tuple[Path, str, str]:
    """The store every case copies: (root, victim id, neighbour id), both runs completed.
    They train on this project's README: preparing it takes a second where the embedded
    corpus takes ten, and what they learn does not matter here."""
    root = tmp_path_factory.mktemp("fuzz") / "runs"
    corpus = root.parent / "corpus.txt"
    corpus.write_bytes((Path(__file__).parents[1] / "README.md").read_bytes())
    sets = fast_sets(token_cache_dir, "train.max_steps=3", "model.d_model=32", "model.d_ff=64",
                     f"data.source={corpus}", "data.vocab_size=256")
    ids = []
    for name in ("victim", "neighbour"):
        started = moetui("run", "quick", "--detach", "--name", name, "--runs-dir", str(root), *sets)
        assert started.exit_code == 0, started.stderr
        ids.append(started.stdout.strip())
    store = RunStore(root)
    for run_id, variant in zip(ids, ("victim", "baseline")):
        assert wait_for(store, run_id, ("completed", "failed", "crashed")).status == "completed"
        store.update(run_id, study=STUDY, variant=variant)
    return root, ids[0], ids[1]


def _damaged_copy(fixture_store, tmp_path: Path, file: str, damage: str) -> tuple[Path, str, str]:
    source, victim, neighbour = fixture_store
    root = tmp_path / "runs"
    shutil.copytree(source, root)
    damages = {**GENERIC, **SPECIFIC[file]}
    damages[damage](root / victim / file)
    return root, victim, neighbour


def _files(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def _clean(result, command: str, ok: bool | None = None) -> None:
    """Exit 0, or 1 with exactly one line on stderr that starts with `moetui`; `ok` pins which."""
    assert result.exit_code in (0, 1), f"{command}: exit {result.exit_code}\n{result.stderr}"
    if result.exit_code == 1:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("moetui"), f"{command}: {result.stderr}"
    if ok is not None:
        assert (result.exit_code == 0) == ok, f"{command}: exit {result.exit_code}\n{result.stderr}"


@pytest.mark.parametrize("file, damage", CASES, ids=[f"{f}-{d}" for f, d in CASES])
def test_every_command_survives_one_damaged_file_and_leaves_the_neighbour_alone(fixture_store, tmp_path, file,
                                                                                damage):
    root, victim, neighbour = _damaged_copy(fixture_store, tmp_path, file, damage)
    before = _files(fixture_store[0] / neighbour)
    listed = (file, damage) not in UNLISTED
    where = ["--runs-dir", str(root)]

    ls = moetui("ls", *where)
    _clean(ls, "ls", ok=True)
    assert neighbour in ls.stdout and (victim in ls.stdout) == listed
    if record_damaged(file, damage):
        (row,) = [line for line in ls.stdout.splitlines() if victim in line]
        assert "damaged" in row

    shown = moetui("show", victim, *where)
    _clean(shown, "show", ok=listed)
    if record_damaged(file, damage):
        assert "damaged" in shown.stdout and RUN_FILE in shown.stdout
    if file == CONFIG_FILE and damage in CONFIG_UNREADABLE:
        assert "(config unreadable: " in shown.stdout
    _clean(moetui("show", "neighbour", *where), "show neighbour", ok=True)
    _clean(moetui("logs", victim, *where), "logs", ok=listed)

    report = moetui("report", *where)
    _clean(report, "report", ok=True)
    assert "neighbour" in report.stdout or "baseline" in report.stdout
    if report_damaged(file, damage):
        assert "damaged" in report.stdout
    _clean(moetui("report", "--study", STUDY, "--baseline", "baseline", "--format", "json", *where), "report --study",
           ok=True)
    _clean(moetui("report", victim, neighbour, "--at-step", "2", *where), "report RUN RUN", ok=listed)

    # The victim completed (or is damaged): a resume or a stop is refused, never half-done.
    _clean(moetui("resume", "--detach", victim, *where), "resume", ok=False)
    _clean(moetui("stop", victim, *where), "stop", ok=False)
    scheduler = Scheduler(RunStore(root), [])
    assert scheduler.tick() is False and not scheduler.children  # nothing queued: nothing started

    _clean(moetui("rm", "-y", victim, *where), "rm", ok=listed)
    assert (root / victim).exists() == (not listed)
    assert _files(root / neighbour) == before


def _summary(app) -> str:
    """The run view's summary line once it is drawn ("" before)."""
    if not isinstance(app.screen, RunScreen):
        return ""
    found = app.screen.query("#run-summary")
    return str(found.first().render()) if found else ""


@scenario
async def test_the_tui_starts_with_damaged_runs_shows_each_for_what_it_is_and_opens_it(fixture_store, tmp_path):
    """One store holds the neighbour and a victim per TUI case (starting the app once per
    case would take most of this file's time); each victim is one damage of one file."""
    source, victim, neighbour = fixture_store
    root = tmp_path / "runs"
    shutil.copytree(source, root, ignore=lambda folder, names: [victim] if Path(folder) == source else [])
    victims = {}
    for file, damage in TUI_CASES:
        run_id = f"{victim}-{file.replace('.', '_')}-{damage}"
        shutil.copytree(source / victim, root / run_id)
        {**GENERIC, **SPECIFIC[file]}[damage](root / run_id / file)
        victims[run_id] = (file, damage)
    store = RunStore(root)
    app = create_app(store, scan_interval=0.1, redraw_interval=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RunsTable)
        await until(pilot, lambda: neighbour in table.rows, what="the neighbour in the runs table")
        for run_id, (file, damage) in victims.items():
            listed = (file, damage) not in UNLISTED
            assert (run_id in table.rows) == listed, (file, damage)
            if not listed:
                continue
            expected = "damaged" if record_damaged(file, damage) else "completed"
            assert str(table.get_cell(run_id, "status")) == expected, (file, damage)
            if (file, damage) not in OPENED:
                continue
            app.open_run(run_id)
            await until(pilot, lambda: "step" in _summary(app), what=f"the run view of {damage} {file}")
            summary = _summary(app)
            config = str(app.screen.query_one("#config").render())
            if record_damaged(file, damage):
                assert store.get(run_id).exit_reason in summary, (file, damage)
            assert ("unreadable" in config) == (file == CONFIG_FILE), (file, damage)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, RunScreen), what="back to the runs")
        for run_id in [neighbour, *(run_id for run_id in victims if run_id in table.rows)]:
            app.toggle_mark(run_id)
        app.open_compare()  # every victim beside the neighbour, ranked as `moetui report` ranks them
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.ranking is not None,
                    what="the ranking of the compare view")
        rows = app.screen.ranking.rows
        assert any(row.status == "damaged" for row in rows)
        assert all(row.stats["val_loss"] is None for row in rows if row.status == "damaged")  # listed, not counted
    assert app.return_code in (None, 0)
