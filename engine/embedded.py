"""The embedded default corpus: English prose that every Python installation carries.

CPython's documentation text (`pydoc_data.topics`) plus the docstrings of the standard
library, read with `ast` (never imported, so nothing runs). Tests, vendored
site-packages and repeated docstrings are left out. Files and topics are visited in
sorted order, so the same Python version yields the same documents, in the same order,
on every machine. About 2 MB; no network, no download.
"""

from __future__ import annotations

import ast
import os
import sys
import sysconfig
from pathlib import Path
from typing import Iterator

# Directories that hold tests, third-party packages or demos rather than library prose.
_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages",
                        "__pycache__", "turtledemo", "lib2to3"})
_DOC_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def embedded_version() -> str:
    """What the embedded text depends on: part of the token-cache key instead of the text's hash,
    which would cost a parse of the whole stdlib on every warm start."""
    return f"python-{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"


def embedded_documents() -> Iterator[str]:
    """Yield documents: one per documentation topic, then one per stdlib module."""
    seen: set[str] = set()
    for text in _topic_texts():
        if text not in seen:
            seen.add(text)
            yield text
    for path in _stdlib_files(Path(sysconfig.get_paths()["stdlib"])):
        fresh = [d for d in _docstrings(path) if d not in seen]
        seen.update(fresh)
        if fresh:
            yield "\n\n".join(fresh)


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
