"""Deterministic fault points, for crash tests and nothing else.

`FTPREP_FAULT="<point>:<action>[,<point>:<action>...]"` makes the process stop at a named
point of a run, so that a test can kill it exactly there instead of sleeping and hoping.
Actions: `pause` (print `ftprep-fault: paused at <point>` on stderr, then wait for a signal:
SIGUSR1 resumes the run, any other ends it as it would anywhere else),
`kill` (SIGKILL itself), `term` (SIGTERM itself), `enospc` (raise OSError(ENOSPC)).
Points are named by the code that calls `fault_point`, e.g. `commit:journal` in the writer.
Unset (always, outside tests), a point costs one dictionary lookup.
"""
from __future__ import annotations

import errno
import os
import signal

ENV = "FTPREP_FAULT"


def fault_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    for item in spec.split(","):
        point, _, action = item.rpartition(":")
        if point == name:
            _act(name, action)


def _act(name: str, action: str) -> None:
    if action == "pause":
        resumed: list[int] = []
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: resumed.append(signum))
        os.write(2, f"ftprep-fault: paused at {name}\n".encode())
        try:
            while not resumed:  # SIGKILL ends the wait too, and SIGTERM through its handler
                signal.pause()
        finally:
            signal.signal(signal.SIGUSR1, previous)
    elif action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    elif action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
