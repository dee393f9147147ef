"""The engine's data API: text in, cached train/validation token memmaps and batches out.

    prepared = prepare_data(cfg, cache_dir, emit)       # read, split, tokenise (or reuse the cache)
    stream = BatchStream(prepared.train_tokens, B, T, seed, device)
    x, y = stream.next()                                 # resumable through stream.state_dict()
    evals = val_batches(prepared.val_tokens, B, T, cfg.eval.eval_steps, device)

Order of work on a cold cache: read documents (limits applied while reading), split
them by document, train the BPE on the training documents only, encode every
document in batches and append it (plus end-of-text) to its split's file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tokenizers import Tokenizer

from engine.batches import BatchStream, val_batches
from engine.config import Config
from engine.corpus import describe_source, read_documents, source_identity
from engine.data_error import DataError
from engine.protocol import make_event
from engine.split import split_documents, token_budgets
from engine.token_cache import (TOKENIZER_FILE, TRAIN_FILE, VAL_FILE, TokenWriter, cache_key,
                                get_or_build, token_dtype)
from engine.tokenizer import eos_id, is_trained, load_pretrained, tokenizer_identity, train_bpe

__all__ = ["DataError", "PreparedData", "prepare_data", "BatchStream", "val_batches"]

Emit = Callable[[dict[str, Any]], None]
# Characters handed to one encode_batch call: large enough to keep every core busy,
# small enough for a progress event every second or so.
ENCODE_CHUNK_CHARS = 1 << 20
PROGRESS_INTERVAL_S = 0.5  # a progress bar needs no more; a 100k-document file would flood the pipe


@dataclass
class PreparedData:
    train_tokens: np.ndarray  # 1-D memmap of token ids, documents joined by end-of-text
    val_tokens: np.ndarray
    vocab_size: int  # from the tokenizer: the model's embedding size
    tokenizer: Tokenizer
    key: str  # token-cache key: equal keys mean identical tokens
    info: dict[str, Any] = field(default_factory=dict)  # counts and provenance from the cache entry


def prepare_data(cfg: Config, cache_dir: Path, emit: Emit) -> PreparedData:
    """Tokenised train/validation data for `cfg`, from the cache or built into it once.

    Raises DataError (naming the source and the fix) for anything the user can correct,
    including validation data too small for one batch of train.batch_size x max_seq_len."""
    what = describe_source(cfg.data)
    start = time.perf_counter()
    key = cache_key(_key_parts(cfg))
    entry, built = get_or_build(Path(cache_dir), key, what, lambda tmp: _build(tmp, cfg, emit))
    prepared = PreparedData(entry.train, entry.val, entry.meta["vocab_size"], entry.tokenizer, key, entry.meta)
    _check_sizes(prepared, cfg, what)
    how = "tokenised" if built else "loaded from the token cache"
    emit(make_event("prepare", stage="ready", done=1, total=1, message=(
        f"{what}: {len(entry.train):,} train + {len(entry.val):,} val tokens, vocab {prepared.vocab_size:,}, "
        f"{how} in {time.perf_counter() - start:.2f}s")))
    return prepared


def _key_parts(cfg: Config) -> dict[str, Any]:
    d = cfg.data
    tok = f"bpe:{d.vocab_size}" if is_trained(d.tokenizer) else tokenizer_identity(d.tokenizer)
    return {"source": source_identity(d), "num_documents": d.num_documents, "max_chars": d.max_chars,
            "max_tokens": d.max_tokens, "tokenizer": tok, "val_fraction": d.val_fraction, "split_seed": d.split_seed}


def _build(tmp: Path, cfg: Config, emit: Emit) -> dict[str, Any]:
    """Write train.bin, val.bin and tokenizer.json into `tmp`; return the entry's meta."""
    data, what = cfg.data, describe_source(cfg.data)
    start = time.perf_counter()
    # A pretrained tokenizer is loaded first, so a wrong name fails before minutes of reading.
    tokenizer = None if is_trained(data.tokenizer) else load_pretrained(data.tokenizer)
    emit(make_event("prepare", stage="read", done=0, total=data.num_documents, message=f"reading {what}"))
    docs = read_documents(data, _every(PROGRESS_INTERVAL_S, lambda n: emit(
        make_event("prepare", stage="read", done=n, total=data.num_documents))))
    emit(make_event("prepare", stage="read", done=len(docs), total=len(docs)))
    is_val = split_documents(len(docs), data.val_fraction, data.split_seed, what)

    if tokenizer is None:
        emit(make_event("prepare", stage="tokenizer", done=0, total=1,
                        message=f"training a {data.vocab_size}-token BPE on the training documents"))
        train_docs = [doc for doc, val in zip(docs, is_val) if not val]
        tokenizer = train_bpe(train_docs, data.vocab_size, len(train_docs))
    tokenizer.save(str(tmp / TOKENIZER_FILE))
    vocab_size = tokenizer.get_vocab_size()
    emit(make_event("prepare", stage="tokenizer", done=1, total=1, message=f"vocab {vocab_size:,}"))

    dtype = token_dtype(vocab_size)
    writers = (TokenWriter(tmp / TRAIN_FILE, dtype), TokenWriter(tmp / VAL_FILE, dtype))
    try:
        used = _encode(docs, is_val, tokenizer, token_budgets(data.max_tokens, data.val_fraction), writers, emit)
    finally:
        for w in writers:
            w.close()
    return {"source": what, "dtype": dtype.name, "vocab_size": vocab_size, "eos_id": eos_id(tokenizer),
            "key_parts": _key_parts(cfg), "documents": len(docs), "chars": sum(map(len, docs)),
            "train_documents": int(used[0]), "val_documents": int(used[1]),
            "train_tokens": writers[0].count, "val_tokens": writers[1].count,
            "build_seconds": round(time.perf_counter() - start, 3), "built_at": time.time()}


def _encode(docs: list[str], is_val: np.ndarray, tokenizer: Tokenizer, budgets: tuple[int, int],
            writers: tuple[TokenWriter, TokenWriter], emit: Emit) -> tuple[int, int]:
    """Encode documents in source order into their split's writer until each split's budget
    (0 = none) is spent; returns documents used per split."""
    eos = eos_id(tokenizer)
    tail = np.array([] if eos is None else [eos], dtype=np.int64)
    used = [0, 0]
    start = time.perf_counter()
    for lo, hi in _chunks(docs):
        for val, enc in zip(is_val[lo:hi], tokenizer.encode_batch(docs[lo:hi])):
            split = int(val)
            room = budgets[split] - writers[split].count if budgets[split] else None
            if room is not None and room <= 0:
                continue
            ids = np.concatenate([np.asarray(enc.ids, dtype=np.int64), tail])
            writers[split].write(ids[:room] if room is not None else ids)
            used[split] += 1
        tokens = writers[0].count + writers[1].count
        emit(make_event("prepare", stage="tokenize", done=hi, total=len(docs),
                        tokens_per_s=round(tokens / max(time.perf_counter() - start, 1e-9))))
        if all(b and w.count >= b for b, w in zip(budgets, writers)):
            break
    return used[0], used[1]


def _every(interval_s: float, report: Callable[[int], None]) -> Callable[[int], None]:
    """`report`, called at most once per `interval_s`."""
    last = time.perf_counter()

    def maybe(n: int) -> None:
        nonlocal last
        if time.perf_counter() - last >= interval_s:
            last = time.perf_counter()
            report(n)

    return maybe


def _chunks(docs: list[str]) -> list[tuple[int, int]]:
    bounds, lo, chars = [], 0, 0
    for i, doc in enumerate(docs):
        chars += len(doc)
        if chars >= ENCODE_CHUNK_CHARS:
            bounds.append((lo, i + 1))
            lo, chars = i + 1, 0
    if lo < len(docs):
        bounds.append((lo, len(docs)))
    return bounds


def _check_sizes(prepared: PreparedData, cfg: Config, what: str) -> None:
    batch, seq = cfg.train.batch_size, cfg.model.max_seq_len
    fix = ("use more text (data.num_documents / data.max_tokens / a larger source), "
           "raise data.val_fraction, or lower train.batch_size / model.max_seq_len")
    if len(prepared.train_tokens) < seq + 1:
        raise DataError(f"{what} gives {len(prepared.train_tokens):,} training tokens, fewer than one "
                        f"sequence of model.max_seq_len+1 = {seq + 1}", fix)
    if len(prepared.val_tokens) < batch * seq + 1:
        raise DataError(f"{what} gives {len(prepared.val_tokens):,} validation tokens, fewer than one batch "
                        f"(train.batch_size {batch} x model.max_seq_len {seq} + 1 = {batch * seq + 1:,})", fix)
