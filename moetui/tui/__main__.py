"""`python -m moetui.tui` (and `textual serve "python -m moetui.tui"`): the TUI on the
store named by $MOETUI_RUNS, else ./runs."""

from moetui.runs import RunStore
from moetui.tui import run_tui

run_tui(RunStore.from_env(None))
