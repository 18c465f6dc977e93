"""CPU priority of background work: what can wait yields the cores to what a user is waiting on.

On a small machine one server ingests, scores and stores. A decision (reading → window → model → rule)
is what a device waits on; the store's commit, a model load and a retraining are not, so their threads
run at a lower priority and take the CPU the stream leaves — they fall behind only for the moments a
burst of windows is being scored, and catch up in between. On Linux a thread's nice value is its own,
so this lowers the calling thread alone (and the threads it starts later); elsewhere it is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import threading

BACKGROUND = 10  # nice: about a tenth of a busy core's time against normal-priority work, all of an idle one


def lower_priority(nice: int = BACKGROUND) -> None:
    """Run the calling thread (and those it starts) at a lower priority."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
