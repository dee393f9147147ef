"""How a person likes the charts (smoothing, its strength, log scale, the x axis), kept for
the next run opened and the next TUI started.

One small TOML file, `charts.toml` in the user's config directory (moetui.user_config:
$MOETUI_CONFIG_DIR, else $XDG_CONFIG_HOME/moetui, else ~/.config/moetui), replaced atomically. A file that is missing, unreadable or holds
a value out of place gives the defaults for that value: a preference is never a reason
to fail. A file that cannot be written leaves them remembered for this session only.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from engine.rundir import atomic_write_text
from moetui.tui.chart_data import X_AXES
from moetui.user_config import config_dir

FILE_NAME = "charts.toml"
STRENGTHS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)  # EMA strengths `+`/`-` step through


@dataclass(frozen=True)
class ChartSettings:
    smoothing: bool = True
    strength: float = 0.9
    log_y: bool = False
    x_axis: str = "steps"

    def replace(self, **changes: Any) -> "ChartSettings":
        return dataclasses.replace(self, **changes)


_VALID = {"smoothing": lambda v: isinstance(v, bool), "strength": lambda v: v in STRENGTHS,
          "log_y": lambda v: isinstance(v, bool), "x_axis": lambda v: v in X_AXES}


def settings_path() -> Path:
    return config_dir() / FILE_NAME


def load(path: Path | None = None) -> ChartSettings:
    try:
        table = tomllib.loads((path or settings_path()).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ChartSettings()
    return ChartSettings(**{key: value for key, value in table.items() if key in _VALID and _VALID[key](value)})


def save(settings: ChartSettings, path: Path | None = None) -> bool:
    """Write `settings`; False when the file cannot be written (a read-only home, say)."""
    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, tomli_w.dumps(dataclasses.asdict(settings)))
    except OSError:
        return False
    return True
