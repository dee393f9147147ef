"""How a stored status and what was observed of the engine become the status a person sees."""

from __future__ import annotations

import pytest

from moetui import status
from moetui.status import Liveness, derive


@pytest.mark.parametrize("stored", ["queued", "completed", "stopped", "cancelled", "failed", "diverged"])
def test_a_finished_or_waiting_record_is_taken_at_its_word(stored):
    assert derive(stored, Liveness.GONE, 10_000.0, 300.0) == status.Seen(stored)


@pytest.mark.parametrize("stored", ["running", "stopping"])
def test_an_engine_that_is_gone_crashed(stored):
    seen = derive(stored, Liveness.GONE, 1.0, 300.0)
    assert seen.status == "crashed" and seen.reason


def test_a_live_engine_without_progress_for_too_long_is_stalled():
    assert derive("running", Liveness.ALIVE, 299.0, 300.0).status == "running"
    assert derive("running", Liveness.ALIVE, 301.0, 300.0).status == "stalled"
    assert derive("running", Liveness.ALIVE, None, 300.0).status == "running"  # not yet beating: loading torch


def test_another_host_gets_a_minute_more_for_its_file_system():
    assert derive("running", Liveness.UNKNOWN, 330.0, 300.0, remote=True).status == "running"
    assert derive("running", Liveness.UNKNOWN, 361.0, 300.0, remote=True).status == "stalled"


def test_the_status_sets_agree():
    assert set(status.LIVE) <= set(status.ACTIVE)
    assert not set(status.LIVE) & set(status.TERMINAL)
    assert set(status.RESUMABLE) <= set(status.TERMINAL)
    assert set(status.STORED) | set(status.DERIVED) == set(status.ALL)
    assert set(status.SOUND) == {"completed"}
