"""The vocab a benchmark builds its model with: the one the run would train with.

The embedding and the output head are vocab x d_model, so a wrong vocab measures another
model: the `baseline` preset at `data.vocab_size` (8,192) has 63.3M parameters, at its
SmolLM tokenizer's 49,152 it has 79.1M, and every FLOP and MFU figure follows. The
benchmark prepares no data, so the size comes from the tokenizer itself where it can be
read here (a tokenizer.json, or a Hub tokenizer in the local Hugging Face cache), from
`data.vocab_size` for a BPE trained by the run, and from `--vocab` otherwise. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import DataConfig
from engine.data_error import DataError
from engine.tokenizer import is_trained, load_pretrained


@dataclass(frozen=True)
class Vocab:
    size: int
    source: str  # where the size came from, printed beside it and kept in the JSON


def resolve_vocab(data: DataConfig, given: int | None = None) -> Vocab:
    """The model's vocab for `data`; `given` (--vocab) stands in for a tokenizer that cannot be
    read here, and must agree with one that can. DataError (one line: what, where, the fix)
    when the size is known neither way."""
    spec = data.tokenizer
    if is_trained(spec):
        _agree(given, data.vocab_size, "the trained BPE's data.vocab_size",
               f"set --set data.vocab_size={given} to bench that vocab")
        return Vocab(data.vocab_size, "BPE trained by the run (data.vocab_size)")
    try:
        size = load_pretrained(spec).get_vocab_size()
    except DataError as unreadable:
        if given is None:
            raise DataError(f"bench: the vocab of tokenizer {spec!r} (data.tokenizer) is unknown here: "
                            f"{unreadable.message}",
                            "pass --vocab N with the tokenizer's size (49152 for HuggingFaceTB/SmolLM-135M), "
                            "or set data.tokenizer to a tokenizer.json path") from None
        return Vocab(given, f"--vocab (tokenizer {spec!r} not readable here)")
    _agree(given, size, f"tokenizer {spec!r}", "leave --vocab out")
    return Vocab(size, f"tokenizer {spec!r}")


def _agree(given: int | None, known: int, what: str, fix: str) -> None:
    if given is not None and given != known:
        raise DataError(f"bench: --vocab {given} contradicts {what}, which has {known:,} tokens", fix)
