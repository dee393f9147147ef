"""Faults around a run, produced for real: a reader that stops reading the engine's pipe,
a disk that is full (/dev/full, a small tmpfs), damaged checkpoints, a missing config, what
a kill mid-write leaves behind, and a stop that arrives while the engine is starting.
Each ends in a named error or a clean status, never in a stalled engine or "this is a bug"."""

from __future__ import annotations

import fcntl
import io
import os
import signal
import subprocess
import threading

import pytest
import torch

from engine.events import EventSink
from engine.lifecycle import run_engine
from engine.protocol import encode, make_event, parse_line
from engine.rundir import CHECKPOINT_FILE, EVENTS_FILE
from engine_helpers import (ROOT, engine_command, engine_env, of_type, quick_config, read_events, read_run_json,
                            train_in_process, write_run)
from moetui import launcher
from moetui.history import load_history
from moetui.runs import RunStore

_PAGE = 4096  # the smallest pipe Linux makes: a few step events fill it


def _small_pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _PAGE)
    return read_end, write_end


def _drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _whole_lines_in_file_order(piped: bytes, file_lines: list[bytes]) -> list[bytes]:
    """The pipe's lines, checked to be whole protocol lines that appear in the file in the same order."""
    assert piped.endswith(b"\n"), piped[-80:]
    lines = piped.splitlines()
    assert all(parse_line(line) is not None for line in lines)
    rest = iter(file_lines)
    assert all(line in rest for line in lines)  # a subsequence: dropped lines only, none reordered
    return lines


# ---- the pipe never blocks training -------------------------------------------------------

def test_a_pipe_nobody_reads_never_holds_training_up(runs_dir, token_cache_dir):
    """`moetui run` under Ctrl-Z: the engine's stdout fills up and is never read again."""
    run_dir = runs_dir / "unread"
    write_run(run_dir, quick_config(token_cache_dir, "train.max_steps=30", "train.log_every=1"))
    read_end, write_end = _small_pipe()
    with open(run_dir / "engine.log", "wb") as log:
        engine = subprocess.Popen(engine_command(run_dir), stdout=write_end, stderr=log, env=engine_env(), cwd=ROOT)
    os.close(write_end)
    try:
        assert engine.wait(timeout=120) == 0
        piped = _drain(read_end)
    finally:
        engine.kill()
        os.close(read_end)
    assert read_run_json(run_dir)["status"] == "completed"
    events = read_events(run_dir)
    assert [e["step"] for e in of_type(events, "step")] == list(range(1, 31))
    lines = _whole_lines_in_file_order(piped, (run_dir / EVENTS_FILE).read_bytes().splitlines())
    assert 0 < len(lines) < len(events)  # the pipe filled up and dropped lines; the file kept them


def test_emit_never_waits_for_a_full_pipe_and_the_pipe_gets_whole_lines_only(tmp_path):
    read_end, write_end = _small_pipe()
    big = make_event("prepare", step=1, stage="read", message="x" * (3 * _PAGE))  # > PIPE_BUF: sent in pieces
    small = [make_event("step", step=n, loss=1.0) for n in range(2, 40)]
    with os.fdopen(write_end, "w") as out:
        sink = EventSink(tmp_path / EVENTS_FILE, out)
        emitting = threading.Thread(target=lambda: [sink.emit(e) for e in [big, *small]], daemon=True)
        emitting.start()
        emitting.join(timeout=30)
        assert not emitting.is_alive(), "emit blocked on a full pipe"
        piped = b""
        for n in range(40, 45):  # the reader catches up: each emit sends what is pending, then its own line
            piped += _drain(read_end)
            sink.emit(make_event("step", step=n, loss=1.0))
        piped += _drain(read_end)
        sink.close()
    os.close(read_end)
    file_lines = (tmp_path / EVENTS_FILE).read_bytes().splitlines()
    assert [parse_line(line)["step"] for line in file_lines] == list(range(1, 45))  # the file has every event
    lines = _whole_lines_in_file_order(piped, file_lines)
    assert parse_line(lines[0])["message"] == big["message"]  # the big line arrived whole, across several writes
    assert parse_line(lines[-1])["step"] == 44  # and the pipe carries new lines again once read
    assert len(lines) < len(file_lines)


# ---- storage errors are named -------------------------------------------------------------

def test_a_full_disk_under_events_jsonl_fails_the_run_with_a_disk_error_in_engine_log_and_run_json(
        runs_dir, token_cache_dir):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    run_dir = runs_dir / "full"
    write_run(run_dir, quick_config(token_cache_dir, "train.max_steps=5"))
    (run_dir / EVENTS_FILE).symlink_to("/dev/full")
    done = subprocess.run(engine_command(run_dir), capture_output=True, text=True, env=engine_env(), cwd=ROOT,
                          timeout=120)
    assert done.returncode == 6, done.stderr
    error, end = [parse_line(line) for line in done.stdout.splitlines()][-2:]  # the pipe still got the reason
    assert error["kind"] == "disk" and error["message"] == f"cannot write {run_dir / EVENTS_FILE}: No space left on device"
    assert "free space on the filesystem of" in error["hint"] and "start the run again" in error["hint"]
    assert end["status"] == "failed"
    assert f"error (disk): cannot write {run_dir / EVENTS_FILE}" in done.stderr  # engine.log
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr  # close/exit raised nothing more
    record = read_run_json(run_dir)
    assert record["status"] == "failed" and record["exit_reason"] == f"disk error: {error['message']}"


@pytest.fixture
def small_disk(tmp_path):
    """A real 5 MB filesystem (tmpfs): room for one tiny-model checkpoint (3.4 MB), not for
    the temp file of the next one beside it. Mounting needs root (CI runs as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_disk_that_fills_up_at_a_checkpoint_fails_the_run_and_it_resumes_once_space_is_freed(
        small_disk, token_cache_dir):
    run_dir = small_disk / "run"
    cfg = quick_config(token_cache_dir, "train.max_steps=4", "train.checkpoint_every=2")
    code, events = train_in_process(run_dir, cfg)
    assert code == 6
    error = of_type(events, "error")[0]
    assert error["kind"] == "disk" and error["message"] == f"cannot write {run_dir / CHECKPOINT_FILE}: No space left on device"
    assert error["hint"] == f"free space on the filesystem of {run_dir} (df -h {run_dir}), then resume the run: moetui resume run"
    assert [e["step"] for e in of_type(events, "checkpoint")] == [2]
    assert read_run_json(run_dir)["exit_reason"] == f"disk error: {error['message']}"
    assert not list(run_dir.glob(".checkpoint.pt.*.tmp"))  # the failed write cleaned up after itself

    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)  # space freed
    code, events = train_in_process(run_dir, cfg, resume=True)
    assert code == 0 and events[-1]["status"] == "completed"
    assert [e["step"] for e in of_type(events, "step")] == [3, 4]


def test_a_missing_config_toml_is_a_config_error_naming_the_file(tmp_path):
    events = []
    code = run_engine(tmp_path / "config.toml", tmp_path, sink=EventSink(None, None, [events.append]))
    error = of_type(events, "error")[0]
    assert code == 2 and error["kind"] == "config"
    assert error["message"].startswith(f"--config = '{tmp_path / 'config.toml'}': no such file")


def _cut_short() -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": 1, "model": torch.zeros(1000)}, buffer)
    return buffer.getvalue()[:2000]


@pytest.mark.parametrize("content, why", [
    (b"", "empty file"),
    (b"\x80\x02garbage, not a pickle", "not a PyTorch checkpoint"),
    (_cut_short(), "PytorchStreamReader failed reading zip archive: failed finding central directory"),
], ids=["empty", "garbage", "cut-short"])
def test_a_damaged_checkpoint_is_a_one_line_error_not_a_bug(tmp_path, token_cache_dir, capsys, content, why):
    (tmp_path / CHECKPOINT_FILE).write_bytes(content)
    code, events = train_in_process(tmp_path, quick_config(token_cache_dir), resume=True)
    error = of_type(events, "error")[0]
    assert code == 7 and error["kind"] == "checkpoint" and events[-1]["status"] == "failed"
    assert error["message"] == f"checkpoint.pt is damaged ({why}): cannot resume from it"
    assert error["hint"] == f"start the run again from its config: moetui run {tmp_path / 'config.toml'}"
    assert "weights_only" not in capsys.readouterr().err  # torch's advice to unpickle anything is not passed on
    assert read_run_json(tmp_path)["exit_reason"] == f"checkpoint error: {error['message']}"


# ---- what a kill leaves behind --------------------------------------------------------------

def test_after_a_kill_mid_write_the_next_start_removes_temp_files_and_its_reason_is_readable(
        tmp_path, token_cache_dir):
    """A kill mid-checkpoint leaves a temp file as big as a checkpoint, and one mid-event a
    partial last line; the next start removes the one and starts a line of its own after the other."""
    run_dir = tmp_path / "killed"
    write_run(run_dir, quick_config(token_cache_dir))
    (run_dir / ".checkpoint.pt.k2j9x0aa.tmp").write_bytes(b"\0" * 100_000)
    (run_dir / ".run.json.q8w7e6rt.tmp").write_text('{"status": "runn')
    (run_dir / EVENTS_FILE).write_text(encode(make_event("step", step=1, loss=5.0)) + '\n{"v": 1, "type": "step", "st')
    code, _ = train_in_process(run_dir, quick_config(token_cache_dir), resume=True)  # no checkpoint: a config error
    assert code == 2
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.toml", "events.jsonl", "run.json", "run.json.lock"]
    history = load_history(run_dir / EVENTS_FILE)
    assert history.steps == [1] and history.last_error["kind"] == "config" and history.status_from_events == "failed"


# ---- a stop while the engine starts ---------------------------------------------------------

def test_a_stop_sent_before_the_engine_has_started_ends_the_run_stopped(runs_dir, token_cache_dir):
    """The engine spawned with SIGTERM blocked (as a launcher does to cover the interpreter's
    own start-up) and signalled at once: the stop waits for its handlers, and is honoured."""
    run_dir = runs_dir / "early"
    write_run(run_dir, quick_config(token_cache_dir, "train.max_steps=100000"))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        engine = subprocess.Popen(engine_command(run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=engine_env(), cwd=ROOT, start_new_session=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    engine.send_signal(signal.SIGTERM)
    try:
        _, err = engine.communicate(timeout=120)
    finally:
        engine.kill()
    assert engine.returncode == 0, err
    assert [(e["type"], e.get("kind"), e.get("status")) for e in read_events(run_dir)] == [
        ("error", "interrupted", None), ("end", None, "stopped")]
    record = read_run_json(run_dir)
    assert record["status"] == "stopped" and record["exit_reason"].startswith("interrupted error")


def test_a_launch_stopped_at_once_ends_stopped_with_a_reason_not_crashed(runs_dir, token_cache_dir):
    store = RunStore(runs_dir)
    record = store.create(quick_config(token_cache_dir), name="early", preset="quick")
    engine = launcher.launch(store, record.id, pipe=False)
    try:
        launcher.stop(store, record.id)
        engine.wait(timeout=120)
    finally:
        engine.kill()
    record = store.get(record.id)
    assert record.status == "stopped" and record.exit_reason.startswith("interrupted error"), record
