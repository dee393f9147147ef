"""Tokenizers: a byte-level BPE trained here, a Hub tokenizer by name, or a tokenizer.json.

Byte-level BPE round-trips any text exactly (every byte is in the base alphabet), so
no document is lost to unknown tokens. Documents are joined by an end-of-text token so
that a training window spanning two documents sees the boundary.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from engine.data_error import DataError
from engine.hub import require_hub

EOS = "<|endoftext|>"
# End-of-text names used by common pretrained tokenizers, tried in order.
_EOS_NAMES = (EOS, "</s>", "<eos>", "[SEP]")


def train_bpe(texts: Iterable[str], vocab_size: int, length: int | None = None) -> Tokenizer:
    """Train a byte-level BPE with `vocab_size` entries (EOS included) on `texts`."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    return tok


def is_trained(spec: str) -> bool:
    return spec.strip().lower() == "bpe"


def tokenizer_identity(spec: str) -> str:
    """What a pretrained tokenizer's output depends on, for the cache key: a local file's content
    hash (so an edited file re-tokenises), or the Hub name."""
    path = _local_file(spec)
    if path is None:
        return "hub:" + spec
    return "file:" + (hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else str(path))


def load_pretrained(spec: str) -> Tokenizer:
    """A local tokenizer.json (or a directory holding one), else a Hub repo name."""
    path = _local_file(spec)
    if path is None:
        return _from_hub(spec)
    if not path.is_file():
        raise DataError(f"tokenizer file {str(path)!r} does not exist",
                        "set data.tokenizer to a tokenizer.json path, a Hub name, or 'bpe'")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # the Rust side raises a bare Exception for malformed files
        raise DataError(f"tokenizer file {str(path)!r} cannot be read: {e}",
                        "point data.tokenizer at a valid tokenizer.json, or use 'bpe'") from None


def _local_file(spec: str) -> Path | None:
    """The tokenizer.json that `spec` names on this machine, or None when it is a Hub name."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path / "tokenizer.json"
    return path if path.suffix == ".json" or path.exists() else None


def _from_hub(name: str) -> Tokenizer:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    hint = (f"download it where the hub is reachable (huggingface-cli download {name} tokenizer.json) "
            "and set data.tokenizer to the file's path, or use data.tokenizer='bpe'")
    try:  # a copy already in the local Hugging Face cache works offline
        return Tokenizer.from_file(hf_hub_download(name, "tokenizer.json", local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    except ValueError as e:  # not a valid repo id
        raise DataError(f"data.tokenizer {name!r} is neither a file nor a Hub name: {e}",
                        "use 'bpe', a tokenizer.json path, or a Hub name such as HuggingFaceTB/SmolLM-135M") from None
    require_hub(f"tokenizer {name!r}", hint)
    try:
        return Tokenizer.from_file(hf_hub_download(name, "tokenizer.json"))
    except Exception as e:  # HTTP, auth and missing-file errors of huggingface_hub
        raise DataError(f"tokenizer {name!r} could not be fetched from the hub: {e}", hint) from None


def eos_id(tok: Tokenizer) -> int | None:
    for name in _EOS_NAMES:
        token_id = tok.token_to_id(name)
        if token_id is not None:
            return token_id
    return None
