"""Where the engine's events go: one protocol line to events.jsonl and to stdout.

The file is the record every reader follows, so it is written first and always: one
write() per line on a file opened O_APPEND, so a kill leaves at most one partial last
line, which the next engine start closes with a newline (a reader skips the broken line
and parses the next). A storage error (disk full, read-only, I/O) on the file is raised
once, as a DiskError, for the run to end on; the sink then carries on without the file,
so the reason still reaches the pipe, the listeners and engine.log.

Stdout is only a live wake-up for whoever launched the run, and must never hold
training up: a reader that stops reading (Ctrl-Z on `moetui run`, a terminal that
scrolls back) would otherwise block the engine once the pipe's 64 KiB fill up. So the
pipe is written non-blocking, whole lines only, and lines it has no room for are dropped
there: readers take events from the file. When the reader goes away for good the write
raises BrokenPipeError, and the sink drops stdout and points fd 1 at /dev/null so that
the interpreter's exit-time flush cannot fail either. Training carries on.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any, Callable

from engine.heartbeat import Heartbeat
from engine.protocol import encode
from engine.rundir import writing


class EventSink:
    def __init__(self, events_path: Path | None, stdout: IO[str] | None = None,
                 listeners: list[Callable[[dict[str, Any]], None]] | None = None,
                 heartbeat: Heartbeat | None = None) -> None:
        """`events_path` None: no file; `stdout` None: no pipe; `listeners` are called with
        every event in-process (the benchmark, tests that stop a run at a given step);
        `heartbeat` is beaten by every event and by `beat()` (the loop, between events).
        A file that cannot be opened is reported by the first `emit`, where the run ends on it."""
        self.events_path = events_path
        self._fd: int | None = None
        self._failure: OSError | None = None
        if events_path is not None:
            try:
                with writing(events_path):
                    self._fd = _open_events(events_path)
            except OSError as e:
                self._failure = e
        self._pipe = LinePipe(stdout) if stdout is not None else None
        self.listeners = list(listeners or [])
        self.heartbeat = heartbeat or Heartbeat(None)

    def beat(self) -> None:
        self.heartbeat.beat()

    def emit(self, event: dict[str, Any]) -> None:
        """File, pipe, listeners; then raise the file's failure, once, if it just failed."""
        self.heartbeat.beat()
        line = (encode(event) + "\n").encode()
        if self._fd is not None:
            try:
                with writing(self.events_path):
                    _write_all(self._fd, line)
            except OSError as e:
                self._failure = e
                self._close_file()
        if self._pipe is not None:
            try:
                self._pipe.send(line)
            except OSError:  # BrokenPipeError: the reader went away (EBADF: stdout was closed)
                self._drop_stdout()
        for listener in self.listeners:
            listener(event)
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _drop_stdout(self) -> None:
        if self._pipe is not None and self._pipe.stream is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        self._pipe = None

    def _close_file(self) -> None:
        """Nothing is buffered (one write() per line), so closing cannot lose or re-raise a line;
        an error close() reports anyway (NFS) has nobody left to tell."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self._close_file()


class LinePipe:
    """Whole protocol lines to a pipe whose reader may stall, without ever waiting for it.

    A pipe (or FIFO) is made non-blocking. A write larger than PIPE_BUF may be cut short:
    its remainder is sent first on the next `send`, and until it is gone, as while the
    pipe is full, new lines are dropped, so the reader never sees half a line followed by
    another. Any other stdout (a file, a terminal, /dev/null) is written as it is."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.fd = stream.fileno()
        if stat.S_ISFIFO(os.fstat(self.fd).st_mode):
            os.set_blocking(self.fd, False)
        self._rest = b""

    def send(self, line: bytes) -> None:
        """Raises BrokenPipeError once the reader has gone."""
        if self._rest:
            self._rest = self._rest[self._write(self._rest):]
            if self._rest:
                return  # still behind: this line is only in the file
        written = self._write(line)
        self._rest = line[written:] if written else b""

    def _write(self, data: bytes) -> int:
        try:
            return os.write(self.fd, data)
        except BlockingIOError:  # full: nothing was written
            return 0


def _open_events(path: Path) -> int:
    """events.jsonl for appending; a partial last line (a kill mid-write) is closed with a
    newline first, so the next event starts on a line of its own."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            _write_all(fd, b"\n")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    """One write() in practice; a file system that takes less (the disk filling up) gets
    the rest, or raises ENOSPC, on the next."""
    while data:
        data = data[os.write(fd, data):]


def log(message: str) -> None:
    """Human-readable progress to stderr (engine.log); stdout carries protocol lines only.
    Under torchrun every rank writes to the one engine.log, so ranks past 0 name themselves."""
    rank = os.environ.get("RANK", "0")  # torchrun's, as engine.distributed.World reads it
    if rank != "0":
        message = "\n".join(f"[rank {rank}] {line}" for line in message.splitlines())
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # nobody reads the log any more, or its disk is full; training matters more than the message
