"""Continuing a finished run for N more steps: a new run from a copy of its checkpoint, at a
constant lr at the parent's floor, the parent untouched."""

from __future__ import annotations

import pytest

from engine.protocol import parse_lines
from moetui.launcher import continued_config
from moetui.runs import RunStore
from tests.cli_helpers import moetui
from tests.engine_helpers import quick_config as tiny_config
from tests.tui_fixtures import fixed_store, quick_config


def _events(run_dir, kind):
    return [e for e in parse_lines((run_dir / "events.jsonl").read_text().splitlines()) if e["type"] == kind]


def _files(run_dir):
    return {path.name: path.read_bytes() for path in sorted(run_dir.iterdir())}


def test_the_child_trains_at_a_constant_lr_at_the_parents_floor_without_warmup():
    parent = quick_config(**{"train.max_steps": 200})  # cosine to 0.1 x (Muon 0.05, AdamW 0.005)
    child = continued_config(parent, 200, 50)
    assert child.train.max_steps == 250
    assert (child.schedule.decay, child.warmup_steps) == ("constant", 0)
    assert child.optim.muon_lr == pytest.approx(0.005) and child.optim.adamw_lr == pytest.approx(0.0005)
    derived = quick_config(**{"optim.adamw_lr": 0})  # AdamW at muon_lr / 10: the child's is pinned
    assert continued_config(derived, 200, 50).adamw_lr == pytest.approx(0.0005)
    constant = quick_config(**{"schedule.decay": "constant"})  # its floor is its peak
    assert continued_config(constant, 200, 50).optim.muon_lr == pytest.approx(0.05)


def test_the_persons_settings_win_and_a_schedule_of_theirs_keeps_the_parents():
    parent = quick_config()
    faster = continued_config(parent, 200, 50, ["optim.muon_lr=0.02"])
    assert faster.optim.muon_lr == 0.02 and faster.schedule.decay == "constant"
    own = continued_config(parent, 200, 50, ["schedule.decay=linear"])
    assert own.schedule.decay == "linear" and own.optim.muon_lr == 0.05 and own.train.max_steps == 250


def test_a_continued_run_keeps_its_own_peak_lrs_after_loading_the_parents_optimizer_state():
    """torch restores the hyperparameters saved with an optimizer's state; the child's config
    must decide the lr it trains at."""
    from engine.model import MoETransformer
    from engine.optim import build_optimizers

    parent_cfg = quick_config(**{"model.n_layers": 1})
    model = MoETransformer(parent_cfg, 64)
    parent = build_optimizers(model, parent_cfg)
    child = build_optimizers(model, continued_config(parent_cfg, 200, 50))
    child.load_state_dict(parent.state_dict())
    child.set_lr(1.0)
    assert sorted({g["lr"] for opt in child.optimizers for g in opt.param_groups}) == pytest.approx([0.0005, 0.005])


def test_continue_refuses_a_run_it_cannot_continue_and_says_what_to_do(runs_dir):
    store = RunStore(runs_dir)
    ids = fixed_store(store)
    diverged = moetui("continue", "lr-high", "--steps", "5")
    assert diverged.exit_code == 1
    assert diverged.stderr.strip() == f"moetui: run lr-high is diverged; resume it instead: moetui resume {ids['lr-high']}"
    no_checkpoint = moetui("continue", "baseline", "--steps", "5")
    assert no_checkpoint.exit_code == 1 and "baseline has no checkpoint to continue from" in no_checkpoint.stderr
    queued = moetui("continue", "experts-8", "--steps", "5")
    assert queued.exit_code == 1 and "only a completed or stopped run can be continued" in queued.stderr
    assert len(store.list()) == 5  # nothing created


@pytest.mark.slow
def test_continue_trains_n_more_steps_from_the_parents_weights_and_leaves_the_parent_as_it_was(
        runs_dir, token_cache_dir):
    from engine.lifecycle import run_engine

    store = RunStore(runs_dir)
    parent = store.create(tiny_config(token_cache_dir, "train.max_steps=30"), name="base", preset="quick")
    assert run_engine(parent.path / "config.toml", parent.path) == 0  # in-process: one engine start less
    before = _files(parent.path)

    more = moetui("continue", "base", "--steps", "10")
    assert more.exit_code == 0, more.stderr
    assert "base+10 completed: 40 steps" in more.stdout
    child = store.get("base+10")
    assert child.parent == parent.id and child.status == "completed"
    assert _files(parent.path) == before  # not one byte of the parent changed

    start = _events(child.path, "start")[0]
    assert start["step"] == 30 and start["resumed"] and start["max_steps"] == 40
    steps = _events(child.path, "step")
    assert [e["step"] for e in steps] == list(range(31, 41))
    assert [e["lr"] for e in steps] == pytest.approx([0.005] * 10)  # quick's floor: 0.1 x Muon's 0.05
    parent_losses = [e["loss"] for e in _events(parent.path, "step")]
    fresh, last = parent_losses[0], parent_losses[-1]
    assert abs(steps[0]["loss"] - last) < 0.15 * (fresh - last), (fresh, last, steps[0]["loss"])
    shown = moetui("show", "base+10").stdout.splitlines()
    assert any(line.split() == ["continues", "base", f"({parent.id})"] for line in shown), shown
