"""Where a person's own moetui settings live, and their `config.toml`.

One directory for every remembered or hand-written setting: $MOETUI_CONFIG_DIR, else
$XDG_CONFIG_HOME/moetui, else ~/.config/moetui (the TUI's charts.toml sits there too).
`config.toml` holds tables a person writes by hand, such as `[slurm]`
(moetui/slurm_config.py); unlike a remembered preference, a mistake in it is an error
that names the file, since it decides where and how jobs run.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from moetui.errors import MoetuiError

CONFIG_ENV = "MOETUI_CONFIG_DIR"
CONFIG_FILE = "config.toml"


def config_dir() -> Path:
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "moetui"


def config_file() -> Path:
    return config_dir() / CONFIG_FILE


def load_table(name: str) -> dict[str, Any]:
    """The `[name]` table of config.toml; {} when the file or the table is absent."""
    path = config_file()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise MoetuiError(f"cannot read {path}: {e}", "fix the file or move it away") from None
    section = table.get(name, {})
    if not isinstance(section, dict):
        raise MoetuiError(f"{path}: `{name}` is not a table", f"write it as [{name}] with keys under it")
    return section
