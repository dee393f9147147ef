"""What a run needs from this machine, checked before the run is written to the store.

`Config.validate` knows the schema; it cannot know whether `data.source` names readable
text here, whether a tokenizer file exists, or whether there is a GPU for
`train.device=cuda`. Without these checks such a run is written, started or queued, and
fails seconds (or, from the queue, hours) later in the engine. `ready` runs inside
`RunStore.creating`, so `moetui run`, `run --queue`, `study` and the TUI all get it.

Torch-free like the rest of the UI side: GPUs are counted the scheduler's way
(`detect_gpus`: CUDA_VISIBLE_DEVICES, else nvidia-smi), and no data is downloaded.
"""

from __future__ import annotations

import codecs
import os
import re
from collections import deque
from pathlib import Path
from typing import Any

from engine.config import Config, ConfigError
from moetui.errors import MoetuiError

# A data directory shows a text file within its first entries; a home directory or `/`
# given by mistake would otherwise be walked for minutes before the run is written.
SCAN_LIMIT = 10_000
SNIFF_BYTES = 64 * 1024  # enough of a file to tell text from binary
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", re.ASCII)  # huggingface.co repo ids
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PreflightError(MoetuiError):
    """A config value this machine cannot honour: names the key, the value and what to do.
    A MoetuiError, so the CLI prints it in one line and the TUI in a notification."""

    def __init__(self, key: str, value: Any, rule: str, hint: str) -> None:
        self.key = key
        super().__init__(str(ConfigError(key, value, rule)), hint)


def ready(config: Config, name: str | None = None, gpus_here: bool = True) -> Config:
    """`config` as the run must store it, or PreflightError. Relative local paths become
    absolute: the scheduler, and a later `moetui resume`, may start the engine from another
    working directory, where `data/train.txt` would name another file or none. A run that
    trains elsewhere (`gpus_here` False: a Slurm job) needs no GPU on this machine."""
    problem = name_problem(name) if name is not None else None
    if problem:
        raise MoetuiError(f"run name {name!r} {problem}", "give a name on one line, e.g. --name quick-lr2")
    if config.train.device == "cuda" and gpus_here:
        problem = _gpu_problem([])
        if problem:
            raise PreflightError("train.device", "cuda", problem, "use train.device=auto or cpu here")
    checked = config.copy()
    checked.data.source = _source(config.data.source)
    checked.data.tokenizer = _tokenizer(config.data.tokenizer)
    return checked


def require_gpus(gpus: list[str]) -> None:
    """`--gpus` (as launcher.parse_gpus returns it): every index names a GPU that is here."""
    problem = _gpu_problem(gpus) if gpus else None
    if problem:
        raise MoetuiError(f"--gpus {','.join(gpus)}: {problem}", "leave out --gpus to train on the CPU")


def _gpu_problem(wanted: list[str]) -> str | None:
    """None when there is a GPU and each wanted index is among them. A UUID (GPU-..., MIG-...)
    needs only some GPU: `detect_gpus` counts devices, it does not name them."""
    from moetui.scheduler import detect_gpus  # not at the top: moetui.scheduler imports moetui.runs, which imports this

    present = detect_gpus()
    if not present:
        hidden = " (CUDA_VISIBLE_DEVICES is empty)" if os.environ.get("CUDA_VISIBLE_DEVICES") == "" else ""
        return f"no GPU is visible here{hidden}"
    missing = [g for g in wanted if g.isdigit() and g not in present]
    return f"no GPU {missing[0]} here (GPUs here: {', '.join(present)})" if missing else None


def name_problem(name: str) -> str | None:
    """What is wrong with a run (or study variant) name, or None. A name is one line:
    `moetui ls`, the TUI's tables and every error message show it as one."""
    return "holds a control character (a newline, a tab)" if _CONTROL.search(name) else None


# ---- data.source --------------------------------------------------------------------------
def _source(source: str) -> str:
    from engine.corpus import _BUILDERS, HF_PREFIX  # the suffixes the engine reads; http/ssl come along

    key, kinds = "data.source", "/".join(sorted(_BUILDERS))
    if not source.strip():  # Path("") is the working directory: the engine would read all of it
        raise PreflightError(key, source, "is empty", "set it to 'embedded', hf:NAME, or a text file or directory")
    if source == "embedded":
        return source
    if source.startswith(HF_PREFIX):  # whether it exists is the hub's to say, when the engine asks
        if not _HUB_NAME.fullmatch(source[len(HF_PREFIX):]):
            raise PreflightError(key, source, "is not a Hub dataset name after hf:",
                                 "e.g. hf:HuggingFaceTB/smollm-corpus")
        return source
    path = Path(os.path.abspath(Path(source).expanduser()))
    fix = f"point data.source at a {kinds} file or a directory of them, 'embedded', or hf:NAME"
    if not path.exists():
        where = "" if str(path) == source else f" (looked for {path})"
        raise PreflightError(key, source, f"does not exist{where}", fix)
    if path.is_dir():
        problem = _dir_problem(path, set(_BUILDERS), kinds)
    elif not path.is_file():
        problem = "is not a regular file (a pipe or a device?)"
    elif path.suffix.lower() not in _BUILDERS:
        problem = f"has an unsupported type {path.suffix!r}"
    else:
        problem = _file_problem(path)
    if problem:
        raise PreflightError(key, source, problem, fix)
    return str(path)


def _dir_problem(root: Path, suffixes: set[str], kinds: str) -> str | None:
    """None once a data file turns up, breadth first, as the engine's reader would find it
    (hidden entries skipped, symlinked directories not followed); else what is wrong."""
    folders, seen = deque([root]), 0
    while folders:
        folder = folders.popleft()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            if folder == root:
                return f"cannot be read: {e.strerror}"
            continue
        for entry in entries:
            seen += 1
            if seen > SCAN_LIMIT:
                return f"holds no {kinds} file among its first {SCAN_LIMIT:,} entries"
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(Path(entry.path))
            elif Path(entry.name).suffix.lower() in suffixes and entry.is_file():
                return None
    return f"holds no {kinds} files"


def _file_problem(path: Path) -> str | None:
    """Empty, unreadable, or not what its suffix says: Parquet by its magic bytes, anything
    else as UTF-8 text (what `datasets` reads .txt, .md and .json/.jsonl as)."""
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        return f"cannot be read: {e.strerror}"
    if size == 0:
        return "is empty"
    if path.suffix.lower() == ".parquet":
        return None if head.startswith(b"PAR1") else "is not a Parquet file (no PAR1 at its start)"
    whole = len(head) == size
    nul = head.find(b"\0")  # valid UTF-8, but no text file holds one
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head[:nul] if nul >= 0 else head, final=whole)
    except UnicodeDecodeError as e:
        return f"is not UTF-8 text (byte 0x{head[e.start]:02x} at offset {e.start})"
    if nul >= 0:
        return f"is not UTF-8 text (byte 0x00 at offset {nul})"
    return "holds no text (only whitespace)" if whole and not text.strip() else None


# ---- data.tokenizer -----------------------------------------------------------------------
def _tokenizer(spec: str) -> str:
    """'bpe' and Hub names pass (the engine fetches those); a file, or a directory holding
    tokenizer.json, must be here. A path is what the engine takes for one (a .json name, or
    something that exists) or what only a path looks like (starting with /, . or ~)."""
    from engine.tokenizer import is_trained

    key, fix = "data.tokenizer", "use 'bpe', a Hub tokenizer name, or the path of a tokenizer.json"
    if not spec.strip():
        raise PreflightError(key, spec, "is empty", fix)
    path = Path(spec).expanduser()
    if is_trained(spec) or not (path.suffix == ".json" or path.exists() or spec.startswith(("/", ".", "~"))):
        return spec
    path = Path(os.path.abspath(path))
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        where = "" if str(file) == spec else f" (looked for {file})"
        raise PreflightError(key, spec, ("holds no tokenizer.json" if path.is_dir() else "does not exist") + where, fix)
    return str(path)
