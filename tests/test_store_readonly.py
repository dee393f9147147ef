"""A store on a read-only filesystem: every command that would change it says so in one
line before it changes anything, and commands that only read keep working. The store is
a real read-only mount (tmpfs remounted ro), so the kernel answers EROFS as it would for
an NFS export mounted ro or a full-disk remount."""

from __future__ import annotations

import subprocess

import pytest

from moetui.presets import load_preset
from moetui.runs import RunStore
from tests.cli_helpers import moetui


@pytest.fixture
def readonly_store(tmp_path, monkeypatch):
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    try:
        store = RunStore(mount / "runs")
        config = load_preset("quick")[0]
        queued = store.create(config, name="waiting")
        stopped = store.create(config, name="halted")
        store.update(stopped.id, status="stopped")
        (stopped.path / "checkpoint.pt").write_bytes(b"stands in for a checkpoint")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        monkeypatch.setenv("MOETUI_RUNS", str(store.root))
        yield store, queued.id, stopped.id
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("command", [
    ["run", "quick", "--detach"], ["run", "quick", "--queue"], ["study", "ablation", "--base", "quick"],
    ["resume", "halted", "--detach"], ["stop", "waiting"], ["rm", "-y", "waiting"],
])
def test_a_change_to_a_read_only_store_is_one_line(readonly_store, command):
    store, *_ = readonly_store
    before = sorted(p.name for p in store.root.rglob("*"))
    result = moetui(*command)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "read-only" in result.stderr, result.stderr
    assert sorted(p.name for p in store.root.rglob("*")) == before


def test_a_read_only_store_can_still_be_read(readonly_store):
    store, queued, stopped = readonly_store
    listing = moetui("ls")
    assert listing.exit_code == 0 and "waiting" in listing.stdout and "halted" in listing.stdout
    assert moetui("show", "halted").exit_code == 0
    report = moetui("report", "halted", "waiting")
    assert report.exit_code == 0, report.stderr
