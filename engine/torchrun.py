"""`python -m engine.torchrun ARGS`: torchrun for a run on several GPUs, quiet when stopped.

`moetui stop` signals torchrun's agent, which forwards SIGTERM to every rank, waits while
they checkpoint and end as stopped, and then re-raises the signal as an exception: a
traceback closing the engine.log of a run that did exactly what was asked. Here that one
exception becomes a line and the exit status of a signalled process; every other failure
keeps torchrun's own report.
"""

import sys

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.run import main

if __name__ == "__main__":
    try:
        main()
    except SignalException as e:
        signal_number = int(e.sigval)
        print(f"torchrun: the ranks ended after signal {signal_number}", file=sys.stderr)
        sys.exit(128 + signal_number)
