"""A run's config.toml as the views read it: the config, or in a few words why not.

`show`, the TUI's run and compare screens and the report all read it here, so that a file
that is missing, a directory, not UTF-8, not TOML or not a valid config is said the same
way everywhere, and is one run's problem, never the end of a command or a screen.
"""

from __future__ import annotations

from pathlib import Path

from engine.config import Config, ConfigError
from engine.rundir import CONFIG_FILE


def read_run_config(run_dir: Path) -> tuple[Config | None, str | None]:
    """(config, None), or (None, why it cannot be read) in one line that names the file."""
    try:
        return Config.from_toml(Path(run_dir) / CONFIG_FILE), None
    except OSError as e:
        return None, f"{CONFIG_FILE}: {e.strerror or e}"
    except UnicodeDecodeError as e:
        return None, f"{CONFIG_FILE}: not {e.encoding} text (byte {e.object[e.start]:#04x} at offset {e.start})"
    except ConfigError as e:  # its own message starts with the file's full path: the run is named already
        return None, f"{CONFIG_FILE}: {str(e).removeprefix(f'{e.where}: ')}"
