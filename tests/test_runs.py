"""The run store: what `create` writes, how runs are found by id, prefix or name, and how a
run whose process vanished reads as crashed. No engine needed: run.json is the contract."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.heartbeat import touch
from engine.identity import identify, this_host
from engine.rundir import HEARTBEAT_FILE, read_run_json, update_run_json
from moetui.presets import load_preset
from moetui.runs import RunBusy, RunNotFound, RunStore, make_run_id


@pytest.fixture
def store(runs_dir):
    return RunStore(runs_dir)


@pytest.fixture
def quick():
    return load_preset("quick")[0]


def test_run_files_get_the_mode_of_ordinary_files_not_private_temp_ones(store, quick):
    """Atomic writes go through mkstemp (mode 0600); a store is shared like any directory."""
    record = store.create(quick, name="shared", preset="quick")
    plain = record.path / "plain"
    plain.write_text("")
    mode = plain.stat().st_mode & 0o777
    assert mode & 0o044  # the umask of these tests lets others read; else the test says nothing
    assert {(record.path / f).stat().st_mode & 0o777 for f in ("run.json", "config.toml")} == {mode}


def test_create_writes_the_resolved_config_and_the_record(store, quick):
    record = store.create(quick, name="first", preset="quick")
    assert tomllib.loads((record.path / "config.toml").read_text()) == quick.to_dict()
    saved = read_run_json(record.path)
    assert saved["id"] == record.id and saved["name"] == "first" and saved["status"] == "queued"
    assert saved["preset"] == "quick" and saved["seed"] == 42 and saved["created"] > 0
    assert store.config(record.id) == quick
    assert record.id.endswith("-first") and store.list() == [store.get(record.id)]


def test_an_invalid_config_never_reaches_the_store(store, quick):
    quick.moe.top_k = 99
    with pytest.raises(ValueError, match="moe.top_k"):
        store.create(quick, name="bad")
    assert not store.root.exists() or not any(store.root.iterdir())


def test_ids_created_in_the_same_second_are_unique_and_sort_by_creation(store, quick):
    ids = [store.create(quick, name="same").id for _ in range(25)]
    assert len(set(ids)) == 25
    assert ids == sorted(ids) == [r.id for r in store.list()]


def test_run_id_reads_as_a_time_stamp():
    assert make_run_id("my run/1", 1_800_000_000.5).split("-", 2)[2] == "8000-my-run-1"


def test_get_by_id_prefix_or_name_and_ambiguity_is_an_error(store, quick):
    a = store.create(quick, name="alpha")
    store.create(quick, name="beta")
    twin = store.create(quick, name="beta")
    update_run_json(twin.path, name="beta")  # two runs of one name, as an older moetui could leave them
    assert store.get(a.id).name == "alpha"
    assert store.get("alpha").id == a.id
    assert store.get(a.id[:-3]).id == a.id  # unique prefix
    with pytest.raises(RunNotFound, match="name 'beta' matches 2 runs"):
        store.get("beta")
    with pytest.raises(RunNotFound, match="no run 'alpah'.*did you mean 'alpha'"):
        store.get("alpah")


def test_a_second_run_of_a_name_gets_the_next_free_one(store, quick):
    names = [store.create(quick, name="quick").name for _ in range(3)]
    assert names == ["quick", "quick-2", "quick-3"]
    assert store.create(quick, preset="quick").name == "quick-4"  # unnamed: the preset's name, made unique


def test_runs_created_at_once_get_different_names(store, quick):
    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda _: store.create(quick, name="race").name, range(16)))
    assert len(set(names)) == 16


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_running_run_whose_process_is_gone_is_crashed(store, quick):
    record = store.create(quick, name="gone")
    store.update(record.id, status="running", pid=_dead_pid(), host=this_host())
    assert store.get(record.id).status == "crashed"
    assert read_run_json(record.path)["status"] == "running"  # reading never rewrites history


def test_a_killed_child_not_yet_reaped_is_crashed_too(store, quick):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    record = store.create(quick, name="zombie")
    store.update(record.id, status="running", **identify(child.pid).record())
    assert store.get(record.id).status == "running"
    child.kill()
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, but left a zombie
        assert store.get(record.id).status == "crashed"
    finally:
        child.wait()


def test_a_run_on_another_host_is_taken_at_its_word_while_its_heartbeat_is_fresh(store, quick):
    record = store.create(quick, name="remote")
    store.update(record.id, status="running", pid=_dead_pid(), host="elsewhere")
    assert store.get(record.id).status == "running"  # no heartbeat yet: starting up
    touch(record.path / HEARTBEAT_FILE)
    assert store.get(record.id).status == "running"


def test_update_merges_fields_and_refuses_unknown_ones(store, quick):
    record = store.create(quick, name="x")
    update_run_json(record.path, device="cuda:0")  # what the engine writes
    assert store.update(record.id, queue_order=3).queue_order == 3
    assert store.get(record.id).device == "cuda:0"
    with pytest.raises(ValueError, match="queue_ordr"):
        store.update(record.id, queue_ordr=1)


def test_delete_removes_a_run_but_not_a_live_one(store, quick):
    live = store.create(quick, name="live")
    store.update(live.id, status="running", **identify(os.getpid()).record())
    with pytest.raises(RunBusy, match="stop it first"):
        store.delete(live.id)
    done = store.create(quick, name="done")
    store.delete(done.id)
    assert [r.name for r in store.list()] == ["live"]


def test_queued_runs_come_in_queue_order_then_creation_order(store, quick):
    a, b, c = (store.create(quick, name=n) for n in "abc")
    store.update(c.id, queue_order=0)
    store.update(a.id, status="completed")
    assert [r.name for r in store.queued()] == ["c", "b"]


def test_hidden_entries_and_stray_folders_are_not_runs(store, quick):
    store.create(quick, name="real")
    (store.root / ".cache").mkdir()
    (store.root / "notes").mkdir()
    assert [r.name for r in store.list()] == ["real"]


def test_the_store_comes_from_the_flag_then_the_environment_then_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("MOETUI_RUNS", str(tmp_path / "env"))
    assert RunStore.from_env(tmp_path / "flag").root == tmp_path / "flag"
    assert RunStore.from_env(None).root == tmp_path / "env"
    monkeypatch.delenv("MOETUI_RUNS")
    assert str(RunStore.from_env(None).root) == "runs"


def test_the_ui_side_never_imports_torch():
    """The CLI and the TUI start fast and run where torch is broken: only the engine imports it."""
    probe = ("import sys, moetui.cli, moetui.runs, moetui.launcher, moetui.scheduler, moetui.presets, moetui.live; "
             "print('torch' in sys.modules, 'textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
