"""The event sink: every event in events.jsonl, and the pipe closing does not stop training."""

from __future__ import annotations

import os

from engine.events import EventSink
from engine.protocol import make_event, parse_line


def test_each_event_is_one_flushed_line_in_the_file_and_on_stdout(tmp_path):
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "w") as out:
        sink = EventSink(tmp_path / "events.jsonl", out)
        sink.emit(make_event("step", step=1, loss=float("nan")))
        # Readable before close: the UI follows the file while the run is going.
        on_disk = (tmp_path / "events.jsonl").read_text()
        sink.close()
        assert on_disk.encode() == os.read(reader.fileno(), 1 << 16) and on_disk.count("\n") == 1
    assert parse_line(on_disk)["loss"] is None  # NaN is written as null, parseable everywhere


def test_a_closed_pipe_is_dropped_and_the_file_keeps_every_event(tmp_path):
    read_end, write_end = os.pipe()
    pipe = os.fdopen(write_end, "w")
    os.close(read_end)  # the reader went away
    seen = []
    sink = EventSink(tmp_path / "events.jsonl", pipe, [seen.append])
    for step in range(3):
        sink.emit(make_event("step", step=step))
    sink.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [parse_line(line)["step"] for line in lines] == [0, 1, 2]
    assert [e["step"] for e in seen] == [0, 1, 2]
    try:
        pipe.close()
    except BrokenPipeError:
        pass  # the test's own handle still holds the unsent line
