"""Test setup shared by every test: offline Hugging Face, a private HF cache, CPU only."""

from __future__ import annotations

import os
import tempfile

import pytest

# Set before anything imports datasets/huggingface_hub: nothing in the suite may reach the network.
_HF_HOME = tempfile.mkdtemp(prefix="moetui-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HOME"] = _HF_HOME
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A person's own presets (~/.config/moetui/presets) must not change what the tests see.
os.environ["MOETUI_PRESETS"] = tempfile.mkdtemp(prefix="moetui-presets-")


def pytest_collection_modifyitems(config, items):
    """Skip `gpu`-marked tests where CUDA is absent (checked lazily: torch is imported only if needed)."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def private_settings(tmp_path_factory, monkeypatch):
    """Chart settings the TUI remembers (moetui/tui/chart_settings.py) start from the defaults
    in every test, and never touch the person's own ~/.config."""
    monkeypatch.setenv("MOETUI_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="session")
def token_cache_dir(tmp_path_factory):
    """One token cache for the whole session: the embedded corpus is tokenised once, not per test."""
    return tmp_path_factory.mktemp("token-cache")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A private run store for one test; MOETUI_RUNS points at it for CLI and TUI code."""
    path = tmp_path / "runs"
    path.mkdir()
    monkeypatch.setenv("MOETUI_RUNS", str(path))
    return path
