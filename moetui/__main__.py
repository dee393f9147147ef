"""`python -m moetui` is the `moetui` command (useful where the console script is not on PATH)."""

from moetui.cli import main

main()
