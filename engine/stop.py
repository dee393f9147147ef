"""A stop request, set by SIGTERM/SIGINT (or a test) and honoured between optimizer steps.

Torch-free so that `python -m engine` installs its signal handlers before importing
torch: a stop that arrives while the interpreter is still loading (the first second or
two) is then a clean `stopped`, not a process killed by the default SIGTERM action.

Until the engine is ready to be interrupted (`interruptible`) a signal is only noted.
While data is prepared (can take minutes) nothing is worth saving, so a signal
interrupts at once; in the loop the first one stops gracefully, with a checkpoint, and
a second one interrupts. Under torchrun a stop signals the agent, which forwards it to
every rank; the ranks vote before each step so that they stop together.
"""

from __future__ import annotations


class StopRequest:
    def __init__(self) -> None:
        self.requested = False
        self.interruptible = True  # False while the interpreter loads: note the request only
        self.graceful = False

    def request(self) -> None:
        if not self.interruptible:
            self.requested = True
            return
        if self.requested or not self.graceful:
            raise KeyboardInterrupt
        self.requested = True
