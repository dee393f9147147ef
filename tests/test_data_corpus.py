"""Documents in: the embedded corpus, local files, Hub names, and the errors a user can cause."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.config import Config, DataConfig
from engine.corpus import read_documents
from engine.data_error import DataError
from engine.embedded import embedded_documents

REPO = Path(__file__).resolve().parents[1]
_DIGEST = "import hashlib; from engine.embedded import embedded_documents as e; " \
          "print(hashlib.sha256('\\x00'.join(e()).encode()).hexdigest())"


def data_config(**values) -> DataConfig:
    cfg = Config().data
    for key, value in values.items():
        setattr(cfg, key, value)
    return cfg


def test_embedded_corpus_is_about_two_megabytes_of_distinct_prose():
    docs = list(embedded_documents())
    chars = sum(map(len, docs))
    assert 1_500_000 < chars < 4_000_000
    assert len(docs) > 400
    assert len(set(docs)) == len(docs)
    assert any("list.sort" in d or "sorted" in d for d in docs)  # real documentation, not filler
    # pydoc's "for" topic is also a section of "Compound statements"; the codecs share a header
    assert sum('The "for" statement is used to iterate' in d for d in docs) == 1
    assert sum("Written by Marc-Andre Lemburg (mal@lemburg.com).\n\n" in d for d in docs) == 1
    assert not any("Supporting definitions for the Python regression tests" in d for d in docs)  # Lib/test


def test_embedded_corpus_is_the_same_in_another_process_with_another_hash_seed():
    """Repeats are found through sets, which must only answer membership, never set an order."""
    here = hashlib.sha256("\x00".join(embedded_documents()).encode()).hexdigest()
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    there = subprocess.run([sys.executable, "-c", _DIGEST], env=env, capture_output=True, text=True, check=True)
    assert there.stdout.strip() == here


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("local-corpus")
    (root / "a.txt").write_text("\n\n".join(f"Paragraph {i}.\nSecond line of {i}." for i in range(40)))
    with open(root / "b.jsonl", "w") as f:
        for i in range(30):
            f.write(json.dumps({"body": f"json document {i}", "id": i}) + "\n")
    pq.write_table(pa.table({"body": [f"parquet document {i}" for i in range(20)]}), root / "c.parquet")
    return root


def test_a_text_file_gives_one_document_per_paragraph_with_its_line_breaks(local_dir):
    docs = read_documents(data_config(source=str(local_dir / "a.txt")))
    assert len(docs) == 40
    assert docs[3].strip() == "Paragraph 3.\nSecond line of 3."


def test_jsonl_and_parquet_read_the_configured_text_field(local_dir):
    assert read_documents(data_config(source=str(local_dir / "b.jsonl"), text_field="body"))[29] == "json document 29"
    assert read_documents(data_config(source=str(local_dir / "c.parquet"), text_field="body")) == \
        [f"parquet document {i}" for i in range(20)]


def test_a_json_file_holding_a_list_of_records_reads_the_configured_text_field(tmp_path):
    (tmp_path / "records.json").write_text(json.dumps([{"content": f"record {i}", "n": i} for i in range(12)]))
    docs = read_documents(data_config(source=str(tmp_path / "records.json"), text_field="content"))
    assert docs == [f"record {i}" for i in range(12)]


def test_a_directory_reads_every_file_in_name_order_with_limits(local_dir):
    docs = read_documents(data_config(source=str(local_dir), text_field="body"))
    assert len(docs) == 90 and docs[0].startswith("Paragraph 0") and docs[-1] == "parquet document 19"
    first = read_documents(data_config(source=str(local_dir), text_field="body", num_documents=45))
    assert len(first) == 45 and first[44] == "json document 4"
    cut = read_documents(data_config(source=str(local_dir), text_field="body", max_chars=12))
    assert len(cut) == 42 and cut[39:] == ["Paragraph 39", "json documen", "parquet docu"]  # cut alike, kept once


def test_a_repeated_document_is_read_once_whatever_its_case_and_spacing(tmp_path):
    """A copy would land on both sides of the train/validation split 18 % of the time."""
    texts = ["A first document.", "A second one.", "a  FIRST\ndocument.", "A second one.", "A third."]
    (tmp_path / "dups.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    docs = read_documents(data_config(source=str(tmp_path / "dups.jsonl"), num_documents=3))
    assert docs == ["A first document.", "A second one.", "A third."]  # num_documents counts distinct ones


def test_missing_file_names_the_path_and_the_choices(tmp_path):
    with pytest.raises(DataError, match="does not exist") as err:
        read_documents(data_config(source=str(tmp_path / "nope.jsonl")))
    assert "nope.jsonl" in str(err.value) and "embedded" in err.value.hint


def test_a_malformed_jsonl_line_is_a_data_error_naming_the_file(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"text": broken\n')
    with pytest.raises(DataError, match="bad.jsonl") as err:
        read_documents(data_config(source=str(tmp_path / "bad.jsonl")))
    assert "valid json" in err.value.hint


def test_missing_text_field_lists_the_fields_there_are(local_dir):
    with pytest.raises(DataError, match=r"no field 'content' \(fields: body, id\)") as err:
        read_documents(data_config(source=str(local_dir / "b.jsonl"), text_field="content"))
    assert "data.text_field" in err.value.hint


@pytest.mark.parametrize("content", ["", "\n\n   \n\n"])
def test_an_empty_corpus_is_refused(tmp_path, content):
    (tmp_path / "empty.txt").write_text(content)
    with pytest.raises(DataError, match="holds no text"):
        read_documents(data_config(source=str(tmp_path / "empty.txt")))


def test_unsupported_file_type_and_empty_directory_are_refused(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK")
    with pytest.raises(DataError, match="unsupported type '.docx'"):
        read_documents(data_config(source=str(tmp_path / "notes.docx")))
    with pytest.raises(DataError, match="holds no"):
        read_documents(data_config(source=str(tmp_path)))


def test_hub_dataset_offline_fails_at_once_and_says_to_use_local_files():
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        read_documents(data_config(source="hf:roneneldan/TinyStories"))
    assert time.perf_counter() - start < 10  # not the 30+ s of retries the hub client would make
    assert "cannot be reached" in err.value.message and "HF_HUB_OFFLINE" in err.value.message
    assert "data.source" in err.value.hint and "local" in err.value.hint


def test_hub_dataset_without_offline_mode_fails_fast_when_nothing_answers(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "https_proxy", "HTTPS_PROXY",
                "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"cannot connect to 127\.0\.0\.1:9"):
        read_documents(data_config(source="hf:HuggingFaceTB/smollm-corpus", hf_config="cosmopedia-v2"))
    assert time.perf_counter() - start < 10  # not the 30+ s of retries the hub client would make


def test_corpus_tokenizer_and_cache_modules_import_without_torch_or_datasets():
    code = ("import sys, engine.corpus, engine.tokenizer, engine.token_cache, engine.split; "
            "print(sorted({'torch', 'datasets'} & set(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
