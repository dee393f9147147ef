"""The token cache: tokenised corpora stored once, as flat memmaps, shared by every run.

Layout: `<cache_dir>/<key>/{train.bin, val.bin, tokenizer.json, meta.json}`, where the key
hashes everything the tokens depend on. An entry is built in a temporary directory
under an exclusive lock and renamed into place, so concurrent runs on the same data
build it once, and a reader never sees a half-written entry (a directory either is
complete or does not exist). No torch here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tokenizers import Tokenizer

from engine.data_error import DataError
from engine.rundir import atomic_write_text, locked

CACHE_VERSION = 1
TRAIN_FILE, VAL_FILE, TOKENIZER_FILE, META_FILE = "train.bin", "val.bin", "tokenizer.json", "meta.json"


def cache_key(parts: dict[str, Any]) -> str:
    blob = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 halves the file (and page-cache) size whenever every id fits."""
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


@dataclass
class CacheEntry:
    path: Path
    train: np.ndarray  # 1-D read-only memmaps
    val: np.ndarray
    tokenizer: Tokenizer
    meta: dict[str, Any]


class TokenWriter:
    """Appends token arrays to a flat binary file, counting them."""

    def __init__(self, path: Path, dtype: np.dtype) -> None:
        self.file, self.dtype, self.count = open(path, "wb"), dtype, 0

    def write(self, ids: np.ndarray) -> None:
        self.file.write(ids.astype(self.dtype, copy=False).tobytes())
        self.count += len(ids)

    def close(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


def get_or_build(cache_dir: Path, key: str, what: str,
                 build: Callable[[Path], dict[str, Any]]) -> tuple[CacheEntry, bool]:
    """The entry for `key`, built by `build(tmp_dir) -> meta` if absent; True when built here."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / key
    if final.exists():  # complete by construction: entries only appear through the rename below
        return load_entry(final, what), False
    with locked(final):
        if final.exists():  # another process built it while we waited for the lock
            return load_entry(final, what), False
        for stale in cache_dir.glob(f".{key}.tmp-*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        tmp = cache_dir / f".{key}.tmp-{os.getpid()}"  # under the lock, so unique; mkdir keeps the umask's mode
        tmp.mkdir()
        try:
            meta = {"cache_version": CACHE_VERSION, **build(tmp)}
            atomic_write_text(tmp / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return load_entry(final, what), True


def load_entry(path: Path, what: str) -> CacheEntry:
    """Open an entry, checking it against its meta; DataError naming the directory if it is damaged."""
    try:
        meta = json.loads((path / META_FILE).read_text())
        if meta.get("cache_version") != CACHE_VERSION:
            raise ValueError(f"cache version {meta.get('cache_version')!r}, expected {CACHE_VERSION}")
        dtype = np.dtype(meta["dtype"])
        train = _open_tokens(path / TRAIN_FILE, dtype, meta["train_tokens"])
        val = _open_tokens(path / VAL_FILE, dtype, meta["val_tokens"])
        tokenizer = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        if tokenizer.get_vocab_size() != meta["vocab_size"]:
            raise ValueError(f"tokenizer has {tokenizer.get_vocab_size()} tokens, meta says {meta['vocab_size']}")
    except Exception as e:  # json, key, OS, numpy and tokenizers errors all mean the same: damaged
        raise DataError(f"token cache {str(path)!r} for {what} is damaged ({type(e).__name__}: {e})",
                        f"delete that directory (rm -r {path}) and start again; it will be rebuilt") from None
    return CacheEntry(path, train, val, tokenizer, meta)


def _open_tokens(path: Path, dtype: np.dtype, count: int) -> np.ndarray:
    size = path.stat().st_size
    if size != count * dtype.itemsize:
        raise ValueError(f"{path.name} holds {size} bytes, expected {count} {dtype.name} tokens")
    if count == 0:  # mmap cannot map an empty file
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))
