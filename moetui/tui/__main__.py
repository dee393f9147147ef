"""`python -m moetui.tui` (and `textual serve "python -m moetui.tui"`): the TUI on the
store named by $MOETUI_RUNS, else ./runs."""

import sys

from moetui.runs import RunStore
from moetui.tui import run_tui

sys.exit(run_tui(RunStore.from_env(None)))
