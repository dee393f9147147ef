"""The token cache: built once, reused without tokenising, safe under concurrent runs, never half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.config import Config
from engine.data import DataError, prepare_data
from engine.token_cache import TRAIN_FILE

REPO = Path(__file__).resolve().parents[1]


def stages(events: list[dict]) -> list[str]:
    return [e["stage"] for e in events]


@pytest.fixture(scope="module")
def embedded(token_cache_dir):
    return prepare_data(Config(), token_cache_dir, lambda e: None)


def test_the_embedded_corpus_becomes_hundreds_of_thousands_of_uint16_tokens(embedded):
    """Its cold and warm preparation times are in docs/benchmarks.md (3.6 s and 0.01 s)."""
    assert embedded.vocab_size == 8192 == embedded.tokenizer.get_vocab_size()
    assert embedded.train_tokens.dtype == embedded.val_tokens.dtype == np.uint16
    assert isinstance(embedded.train_tokens, np.memmap)
    assert len(embedded.train_tokens) > 300_000 and len(embedded.val_tokens) > 30_000
    assert int(embedded.train_tokens.max()) < embedded.vocab_size


def test_a_second_preparation_reuses_the_cache_without_tokenising(embedded, token_cache_dir):
    entry = token_cache_dir / embedded.key
    mtime = (entry / TRAIN_FILE).stat().st_mtime_ns
    events: list[dict] = []
    again = prepare_data(Config(), token_cache_dir, events.append)
    assert stages(events) == ["ready"] and "token cache" in events[0]["message"]
    assert again.key == embedded.key and np.array_equal(again.val_tokens, embedded.val_tokens)
    assert (entry / TRAIN_FILE).stat().st_mtime_ns == mtime


def test_a_cache_entry_is_as_readable_as_any_directory_made_beside_it(embedded, token_cache_dir):
    """Not mkdtemp's private 0700: a cache shared by a team's runs must be readable like the store."""
    plain = token_cache_dir / "plain"
    plain.mkdir()
    assert (token_cache_dir / embedded.key).stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_the_key_follows_what_the_tokens_depend_on_and_ignores_the_rest(embedded):
    from engine.data import _key_parts
    from engine.token_cache import cache_key

    def key(**overrides):
        return cache_key(_key_parts(Config().apply_overrides([f"{k}={v}" for k, v in overrides.items()])))

    assert key() == embedded.key
    assert key(**{"model.d_model": 512, "moe.num_experts": 4, "optim.muon_lr": 0.01}) == embedded.key
    assert key(**{"train.seed": 1}) == embedded.key  # every seed of a study shares the split and tokenizer
    changed = [key(**{"data.split_seed": 1}), key(**{"data.val_fraction": 0.2}), key(**{"data.max_tokens": 1000}),
               key(**{"data.vocab_size": 4096}), key(**{"data.num_documents": 50})]
    assert len(set(changed) | {embedded.key}) == 6


def local_corpus(path: Path, n_docs: int) -> Path:
    path.write_text("".join(json.dumps({"text": f"Document {i}: " + "the cat sat on the mat. " * (5 + i % 7)}) + "\n"
                            for i in range(n_docs)))
    return path


def small_config(source: Path, **data) -> Config:
    cfg = Config()
    cfg.data.source, cfg.data.vocab_size = str(source), 300
    cfg.train.batch_size, cfg.model.max_seq_len = 2, 16
    for key, value in data.items():
        setattr(cfg.data, key, value)
    return cfg


def test_editing_a_local_file_tokenises_it_again(tmp_path):
    corpus = local_corpus(tmp_path / "c.jsonl", 200)
    first = prepare_data(small_config(corpus), tmp_path / "cache", lambda e: None)
    local_corpus(corpus, 201)
    events: list[dict] = []
    second = prepare_data(small_config(corpus), tmp_path / "cache", events.append)
    assert second.key != first.key and "tokenize" in stages(events)
    assert second.info["documents"] == 201


def test_max_tokens_caps_the_corpus_in_the_split_proportion(tmp_path):
    cfg = small_config(local_corpus(tmp_path / "c.jsonl", 500), max_tokens=3000, val_fraction=0.1)
    events: list[dict] = []
    prepared = prepare_data(cfg, tmp_path / "cache", events.append)
    assert (len(prepared.train_tokens), len(prepared.val_tokens)) == (2700, 300)
    tokenize = [e for e in events if e["stage"] == "tokenize"]
    assert tokenize and tokenize[-1]["tokens_per_s"] > 0 and tokenize[-1]["total"] == prepared.info["documents"]


_RACER = """
import json, sys, time
from pathlib import Path
from engine.config import Config
from engine.data import prepare_data
cfg = Config.from_dict(json.loads(sys.argv[1]))
go = Path(sys.argv[3])
Path(sys.argv[4]).touch()
while not go.exists():
    time.sleep(0.01)
events = []
prepared = prepare_data(cfg, Path(sys.argv[2]), events.append)
print(json.dumps({"key": prepared.key, "stages": [e["stage"] for e in events],
                  "sum": int(prepared.train_tokens.sum()) + int(prepared.val_tokens.sum())}))
"""


def test_two_runs_preparing_the_same_data_at_once_build_it_once(tmp_path):
    cfg = small_config(local_corpus(tmp_path / "c.jsonl", 3000))
    cache, go = tmp_path / "cache", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, json.dumps(cfg.to_dict()), str(cache), str(go),
                                str(tmp_path / f"ready{i}")], env=env, stdout=subprocess.PIPE, text=True)
              for i in range(2)]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.02)
    go.touch()  # both are imported and waiting: release them together
    results = [json.loads(r.communicate(timeout=60)[0]) for r in racers]
    assert all(r.returncode == 0 for r in racers)
    assert results[0]["key"] == results[1]["key"] and results[0]["sum"] == results[1]["sum"]
    assert sorted("tokenize" in r["stages"] for r in results) == [False, True]
    assert sorted(p.name for p in cache.iterdir()) == sorted([results[0]["key"], results[0]["key"] + ".lock"])


def test_a_damaged_cache_entry_is_reported_with_the_fix(tmp_path):
    cfg = small_config(local_corpus(tmp_path / "c.jsonl", 200))
    prepared = prepare_data(cfg, tmp_path / "cache", lambda e: None)
    entry = tmp_path / "cache" / prepared.key
    with open(entry / TRAIN_FILE, "r+b") as f:
        f.truncate(11)
    with pytest.raises(DataError, match="damaged") as err:
        prepare_data(cfg, tmp_path / "cache", lambda e: None)
    assert str(entry) in str(err.value) and "delete" in err.value.hint
    (entry / "meta.json").write_text("{")
    with pytest.raises(DataError, match="damaged"):
        prepare_data(cfg, tmp_path / "cache", lambda e: None)


def test_a_failed_preparation_leaves_nothing_in_the_cache(tmp_path):
    one_doc = tmp_path / "one.txt"
    one_doc.write_text("A single paragraph with no blank line in it.")
    with pytest.raises(DataError, match="at least 2"):
        prepare_data(small_config(one_doc), tmp_path / "cache", lambda e: None)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


def test_validation_data_smaller_than_one_batch_is_refused_with_the_knobs_to_turn(tmp_path):
    cfg = small_config(local_corpus(tmp_path / "c.jsonl", 40))
    cfg.train.batch_size, cfg.model.max_seq_len = 64, 256
    with pytest.raises(DataError, match="validation tokens, fewer than one batch") as err:
        prepare_data(cfg, tmp_path / "cache", lambda e: None)
    assert str(tmp_path / "c.jsonl") in err.value.message
    assert "data.val_fraction" in err.value.hint and "train.batch_size" in err.value.hint
