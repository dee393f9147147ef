"""Where documents come from: the embedded corpus, local files, or a Hub dataset.

`read_documents` turns the one `data.source` string into a list of document texts, with
the config's limits applied while reading (so a streamed Hub dataset stops early).
`datasets` is imported only for file and Hub sources: it costs over a second, and the
embedded corpus and every warm start do without it.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from engine.config import DataConfig
from engine.data_error import DataError
from engine.dedup import distinct
from engine.embedded import embedded_documents, embedded_version
from engine.hub import require_hub

HF_PREFIX = "hf:"
# Builder of `datasets.load_dataset` for each file type it can read.
_BUILDERS = {".txt": "text", ".text": "text", ".md": "text", ".jsonl": "json", ".json": "json",
             ".parquet": "parquet"}
# With only max_tokens set, read this many characters per wanted token before stopping: byte-level
# BPE on English averages ~4 characters a token, so 6 leaves room for denser text.
CHARS_PER_TOKEN_BUDGET = 6
# Bumped whenever the same records would give other documents (2: repeated documents dropped).
_READ_REVISION = 2


@dataclass(frozen=True)
class Limits:
    num_documents: int = 0
    max_chars: int = 0
    max_tokens: int = 0

    @classmethod
    def of(cls, data: DataConfig) -> "Limits":
        return cls(data.num_documents, data.max_chars, data.max_tokens)


def describe_source(data: DataConfig) -> str:
    """The source as a person would name it in an error message."""
    if data.source == "embedded":
        return "the embedded corpus"
    if data.source.startswith(HF_PREFIX):
        cfg = f" ({data.hf_config})" if data.hf_config else ""
        return f"Hub dataset {data.source[len(HF_PREFIX):]!r}{cfg}, split {data.split!r}"
    kind = "directory" if Path(data.source).expanduser().is_dir() else "file"
    return f"data {kind} {data.source!r}"


def source_identity(data: DataConfig) -> str:
    """What the documents depend on, for the cache key, computed without reading them."""
    return f"{_records_identity(data)}|r{_READ_REVISION}"


def _records_identity(data: DataConfig) -> str:
    if data.source == "embedded":
        return "embedded:" + embedded_version()
    if data.source.startswith(HF_PREFIX):
        return f"hub:{data.source}|{data.hf_config}|{data.split}|{data.text_field}"
    files = local_files(data.source)
    stats = "|".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
    return f"local:{data.text_field}|" + hashlib.sha256(stats.encode()).hexdigest()


def read_documents(data: DataConfig, progress: Callable[[int], None] = lambda n: None) -> list[str]:
    """All documents of the source, limited; `progress(n)` is called after each one."""
    if data.source == "embedded":
        records: Iterable[str] = embedded_documents()
    elif data.source.startswith(HF_PREFIX):
        records = _hub_texts(data)
    else:
        records = _local_texts(data)
    docs = list(limit_documents(records, Limits.of(data), progress))
    if not docs:
        raise DataError(f"{describe_source(data)} holds no text",
                        "point data.source at files that contain text, or check data.text_field")
    return docs


def limit_documents(texts: Iterable[str], limits: Limits, progress: Callable[[int], None]) -> Iterator[str]:
    """Cut each text to max_chars, skip empty ones and repeats (`distinct`), stop at num_documents
    or the max_tokens char budget: limits count the documents that are used."""
    count = chars = 0
    budget = limits.max_tokens * CHARS_PER_TOKEN_BUDGET
    cut = (text[: limits.max_chars] if limits.max_chars else text for text in texts)
    for text in distinct(text for text in cut if text.strip()):
        yield text
        count, chars = count + 1, chars + len(text)
        progress(count)
        if (limits.num_documents and count >= limits.num_documents) or (budget and chars >= budget):
            break


def local_files(source: str) -> list[Path]:
    """The readable files of a local source (a file, or a directory searched recursively), sorted."""
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise DataError(f"data file {source!r} does not exist",
                        "set data.source to an existing .txt/.jsonl/.json/.parquet file or directory, "
                        "'embedded', or hf:NAME")
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _BUILDERS
        and not any(part.startswith(".") for part in p.relative_to(path).parts))  # skip .git, .cache, ...
    if path.is_file() and path.suffix.lower() not in _BUILDERS:
        raise DataError(f"data file {source!r} has an unsupported type {path.suffix!r}",
                        f"use one of {', '.join(sorted(_BUILDERS))}")
    if not files:
        raise DataError(f"directory {source!r} holds no {'/'.join(sorted(_BUILDERS))} files",
                        "put text files in it, or point data.source at a file")
    return files


def _local_texts(data: DataConfig) -> Iterator[str]:
    """Stream local files through `datasets` in file order, one `load_dataset` per run of files
    of the same type. Text files become one document per paragraph (blank-line separated),
    so a single long .txt file can still be split into train and validation documents."""
    for builder, run in itertools.groupby(local_files(data.source), key=lambda f: _BUILDERS[f.suffix.lower()]):
        files = [str(f) for f in run]
        extra = {"sample_by": "paragraph", "keep_linebreaks": True} if builder == "text" else {}
        yield from _stream(describe_source(data), "text" if builder == "text" else data.text_field,
                           f"check that it is valid {builder} (one JSON object per line for .jsonl)",
                           builder, data_files=files, split="train", **extra)


def _hub_texts(data: DataConfig) -> Iterator[str]:
    what = describe_source(data)
    require_hub(what, "download the data where the hub is reachable and set data.source to the local "
                      ".jsonl/.parquet files or their directory, or use data.source='embedded'")
    yield from _stream(what, data.text_field,
                       "check the dataset name, data.hf_config and data.split on huggingface.co, and the network",
                       data.source[len(HF_PREFIX):], data.hf_config or None, split=data.split)


def _stream(what: str, field: str, hint: str, *args: Any, **kwargs: Any) -> Iterator[str]:
    """Texts of `datasets.load_dataset(*args, streaming=True, **kwargs)`, read lazily so that the
    limits stop a large dataset early; its many failure types become one DataError."""
    import datasets

    try:
        yield from _field_texts(datasets.load_dataset(*args, streaming=True, **kwargs), field, what)
    except DataError:
        raise
    except Exception as e:  # datasets raises many types (FileNotFoundError, DatasetGenerationError, ...)
        raise DataError(f"{what} could not be read: {type(e).__name__}: {e}", hint) from None


def _field_texts(records: Iterable[dict], field: str, what: str) -> Iterator[str]:
    for record in records:
        if field not in record:
            raise DataError(f"{what} has no field {field!r} (fields: {', '.join(sorted(record))})",
                            "set data.text_field to the field that holds the text")
        value = record[field]
        if isinstance(value, str):
            yield value
