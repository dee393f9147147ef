"""Digests: the fast reader agrees with the full history, the disk cache is used and refreshed."""

from __future__ import annotations

import json
import marshal
import os

from engine.protocol import encode, make_event
from moetui.history import load_history
from moetui.report import cache as cache_module
from moetui.report.cache import CACHE_FILE, DigestCache
from moetui.report.digest import RunDigest, read_digest
from moetui.report.summary import summarize
from tests.report_helpers import config, events_lines


def _resumed_run_lines() -> list[str]:
    cfg = config([])
    lines = events_lines(cfg, [(10, 7.5, 0.08, 1800.0), (20, 7.2, 0.11, 1340.0)], status=None)
    # The run crashed after step 20, then resumed from its checkpoint at step 15.
    resumed = make_event("start", step=15, config=cfg.to_dict(), params_total=1, params_active=1, device="cpu",
                         dtype="fp32", world_size=1, tokens_per_step=cfg.tokens_per_step, max_steps=30,
                         vocab_size=8192, resumed=True)
    more = events_lines(cfg, [(10, 7.5, 0.08, 1800.0), (25, 7.0, 0.12, 1100.0)], status="completed")[1:]
    more = [line for line in more if json.loads(line)["step"] > 15]
    return lines + [encode(resumed) + "\n"] + more


def test_the_fast_digest_equals_the_one_from_the_full_history(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(_resumed_run_lines()) + '{"v":1,"type":"step","step":99')  # a partial last line
    fast = read_digest(path)
    assert fast == RunDigest.from_history(load_history(path))
    assert fast.eval_steps == [10, 25] and fast.val_loss == [7.5, 7.0]  # the redone eval at 20 is gone
    assert fast.last_step == 25 and fast.end_status == "completed" and fast.started
    assert fast.eval_tokens == [10 * 24 * 4 * 512, 25 * 24 * 4 * 512]


def test_broken_lines_and_lines_written_another_way_digest_like_the_full_history(tmp_path):
    """The fast path decodes the lines it picks as one JSON array; a broken line must not
    take the others with it, and a line not written by `encode` is still read."""
    lines = _resumed_run_lines()
    first_eval = next(i for i, line in enumerate(lines) if '"type":"eval"' in line)
    lines.insert(first_eval, lines[first_eval][:40] + "\n")  # cut short by a crash, more lines after it
    lines[first_eval + 5] = json.dumps(json.loads(lines[first_eval + 5])) + "\n"  # a step event with spaces
    lines[-2] = json.dumps(json.loads(lines[-2])) + "\n"  # the last eval, likewise
    path = tmp_path / "events.jsonl"
    path.write_text("".join(lines))
    fast = read_digest(path)
    assert fast == RunDigest.from_history(load_history(path))
    assert fast.eval_steps == [10, 25] and fast.end_status == "completed"


def test_summaries_compare_at_a_given_step_with_the_compute_spent_by_then(tmp_path):
    path = tmp_path / "events.jsonl"
    cfg = config([])
    path.write_text("".join(events_lines(cfg, [(10, 7.5, 0.08, 1800.0), (20, 7.2, 0.11, 1340.0)], wall_time=20.0)))
    digest = read_digest(path)
    last = summarize(digest, id="r", name="r", status="completed")
    assert (last.step, last.val_loss, last.reached, last.wall_time) == (20, 7.2, 20, 20.0)
    early = summarize(digest, at_step=15, id="r", name="r", status="completed")
    assert (early.step, early.val_loss, early.reached, early.wall_time) == (10, 7.5, 20, 10.0)
    assert early.tokens == 10 * cfg.tokens_per_step and last.tokens == 20 * cfg.tokens_per_step
    none = summarize(digest, at_step=5, id="r", name="r", status="completed")
    assert none.val_loss is None and none.problem == "no eval at or before step 5"


def test_a_missing_events_file_is_a_run_with_a_problem_not_an_error(tmp_path):
    summary = summarize(read_digest(tmp_path / "events.jsonl"), id="q", name="q", status=None)
    assert summary.status == "queued" and summary.problem == "no events" and summary.val_loss is None


def test_the_disk_cache_skips_unchanged_files_and_redigests_grown_ones(tmp_path, monkeypatch):
    path = tmp_path / "run" / "events.jsonl"
    path.parent.mkdir()
    lines = events_lines(config([]), [(10, 7.5, 0.08, 1800.0), (20, 7.2, 0.11, 1340.0)])
    path.write_text("".join(lines[:3]))  # start, the step and the eval at step 10
    first = DigestCache.for_store(tmp_path)
    assert first.digest(path).eval_steps == [10]
    first.save()
    assert (tmp_path / CACHE_FILE).exists()

    reads = []
    monkeypatch.setattr(cache_module, "read_digest", lambda p: reads.append(p) or read_digest(p))
    assert DigestCache.for_store(tmp_path).digest(path).eval_steps == [10] and reads == []

    path.write_text("".join(lines))
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1))
    assert DigestCache.for_store(tmp_path).digest(path).eval_steps == [10, 20] and reads == [path]


def test_a_corrupt_cache_file_is_ignored_and_replaced(tmp_path):
    (tmp_path / CACHE_FILE).parent.mkdir()
    (tmp_path / CACHE_FILE).write_text("{not json")
    path = tmp_path / "events.jsonl"
    path.write_text("".join(events_lines(config([]), [(10, 7.5, 0.08, 1800.0)])))
    cache = DigestCache.for_store(tmp_path)
    assert cache.digest(path).val_loss == [7.5]
    cache.save()
    assert marshal.loads((tmp_path / CACHE_FILE).read_bytes())["version"] == 2


def test_an_eval_on_a_step_that_did_not_log_compares_that_steps_tokens(tmp_path):
    """With train.log_every = 4 the eval at step 10 has no step event of its own: it is
    compared at 10 optimizer steps' tokens, not at the 8 logged before it."""
    cfg = config([])
    per_step = cfg.tokens_per_step
    start = make_event("start", step=0, config=cfg.to_dict(), params_total=1, params_active=1, device="cpu",
                       dtype="fp32", world_size=1, tokens_per_step=per_step, max_steps=10, vocab_size=8192,
                       resumed=False)
    steps = [make_event("step", step=s, loss=7.0, aux_loss=0.0, lr=0.01, grad_norm=1.0, tokens_per_s=1.0,
                        tokens=s * per_step, elapsed=float(s)) for s in (4, 8)]
    evaluation = make_event("eval", step=10, val_loss=7.0, val_accuracy=0.1, val_perplexity=1096.6)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(encode(e) + "\n" for e in [start, *steps, evaluation]))
    run = summarize(read_digest(path), id="r", name="r", status="running")
    assert run.step == 10 and run.tokens == 10 * per_step and run.vocab_size == 8192
