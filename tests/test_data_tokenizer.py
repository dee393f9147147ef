"""Tokenizers: the trained byte-level BPE round-trips text; pretrained ones bring their own vocab."""

from __future__ import annotations

import json
import time

import pytest
import torch

from engine.config import Config
from engine.data import DataError, prepare_data
from engine.events import EventSink
from engine.tokenizer import EOS, eos_id, load_pretrained, train_bpe
from engine.train import Trainer

TRICKY = "Tabs\tand  double spaces,\nnewlines\n\n, accents: café naïve, CJK 漢字, emoji 🙂, NUL-free bytes ÿ."


@pytest.fixture(scope="module")
def bpe():
    texts = [f"The quick brown fox {i} jumps over the lazy dog. def f(x): return x * {i}\n" for i in range(300)]
    return train_bpe(texts, vocab_size=400)


def test_trained_bpe_round_trips_any_text_exactly(bpe):
    for text in (TRICKY, "", "   leading spaces", "the quick brown fox"):
        assert bpe.decode(bpe.encode(text).ids) == text
    assert bpe.get_vocab_size() == 400
    assert eos_id(bpe) == bpe.token_to_id(EOS) is not None
    # merges were learned: the training text costs far fewer tokens than bytes
    assert len(bpe.encode("The quick brown fox jumps over the lazy dog.").ids) < 20


def test_a_local_tokenizer_json_sets_the_model_vocab(bpe, tmp_path):
    """data.vocab_size says 8192, the tokenizer has 400 entries: the run's model follows the tokenizer."""
    bpe.save(str(tmp_path / "tokenizer.json"))
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"The lazy dog number {i} sleeps."}) + "\n" for i in range(400)))
    cfg = Config().apply_overrides([
        f"data.source={corpus}", f"data.tokenizer={tmp_path / 'tokenizer.json'}", "data.vocab_size=8192",
        f"data.cache_dir={tmp_path / 'cache'}", "train.batch_size=2", "model.max_seq_len=32", "model.d_model=32",
        "model.n_heads=2", "model.n_layers=1", "model.d_ff=32", "train.max_steps=1", "eval.eval_steps=1"]).validate()
    prepared = prepare_data(cfg, tmp_path / "cache", lambda e: None)
    assert prepared.vocab_size == 400 == prepared.tokenizer.get_vocab_size()
    text = prepared.tokenizer.decode(prepared.train_tokens[:40].tolist(), skip_special_tokens=False)
    assert "The lazy dog number" in text and EOS in text  # documents joined by end-of-text

    events: list[dict] = []
    trainer = Trainer(cfg, tmp_path, torch.device("cpu"), EventSink(None, None, [events.append]))
    assert trainer.run().status == "completed"
    assert trainer.model.embed.num_embeddings == 400
    assert [e["vocab_size"] for e in events if e["type"] == "start"] == [400]


def test_an_unreadable_tokenizer_file_is_a_data_error(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot be read"):
        load_pretrained(str(tmp_path / "tokenizer.json"))
    with pytest.raises(DataError, match="does not exist"):
        load_pretrained(str(tmp_path / "missing.json"))


def test_a_hub_tokenizer_offline_fails_before_reading_and_says_how_to_use_a_file(tmp_path):
    cfg = Config()
    cfg.data.tokenizer = "HuggingFaceTB/SmolLM-135M"
    events: list[dict] = []
    start = time.perf_counter()
    with pytest.raises(DataError, match="cannot be reached") as err:
        prepare_data(cfg, tmp_path / "cache", events.append)
    assert time.perf_counter() - start < 10 and events == []  # no retries, and nothing read first
    assert "tokenizer.json" in err.value.hint and "data.tokenizer" in err.value.hint
