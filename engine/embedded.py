"""The embedded default corpus: English prose that every Python installation carries.

CPython's documentation text (`pydoc_data.topics`) plus the docstrings of the standard
library, read with `ast` (never imported, so nothing runs). Tests and vendored
site-packages are left out. Files and topics are visited in sorted order, so the same
Python version yields the same documents, in the same order, on every machine.
Paragraphs that repeat earlier text are dropped (`engine.dedup`): this text copies itself
so much that, without that, validation windows recur in training. About 1.9 MB; no
network, no download.
"""

from __future__ import annotations

import ast
import os
import sys
import sysconfig
from pathlib import Path
from typing import Iterator

from engine.dedup import fresh_paragraphs

# Directories that hold tests, third-party packages or demos rather than library prose.
_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages",
                        "__pycache__", "turtledemo", "lib2to3"})
_DOC_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
# Bumped whenever the same Python would yield other documents (2: repeated paragraphs dropped).
_REVISION = 2


def embedded_version() -> str:
    """What the embedded text depends on: part of the token-cache key instead of the text's hash,
    which would cost a parse of the whole stdlib on every warm start."""
    v = sys.version_info
    return f"python-{v.major}.{v.minor}.{v.micro}-r{_REVISION}"


def embedded_documents() -> Iterator[str]:
    """Yield documents: one per documentation topic, then one per stdlib module, each without
    the paragraphs that repeat earlier ones."""
    return fresh_paragraphs(_texts())


def _texts() -> Iterator[str]:
    yield from _topic_texts()
    for path in _stdlib_files(Path(sysconfig.get_paths()["stdlib"])):
        docs = _docstrings(path)
        if docs:
            yield "\n\n".join(docs)


def _topic_texts() -> list[str]:
    from pydoc_data.topics import topics

    return [topics[name].strip() for name in sorted(topics)]


def _stdlib_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(".py") and not name.startswith("test_"):
                yield Path(dirpath) / name


def _docstrings(path: Path) -> list[str]:
    """Docstrings of the module, its classes and functions, in source order."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):  # e.g. a deliberately broken file shipped as data
        return []
    docs = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        doc = ast.get_docstring(node)  # type: ignore[arg-type]
        if doc and len(doc) > 40:  # one-liners like "Return self." repeat across modules and teach little
            docs.append(doc)
        stack.extend(reversed([c for c in ast.iter_child_nodes(node) if isinstance(c, _DOC_NODES)]))
    return docs
