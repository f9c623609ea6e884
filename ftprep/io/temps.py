"""ftprep's own temporary names, and the removal of the ones a dead run left behind.

Every temporary ftprep creates carries the creating process id in its name:
`.<target name>.ftprep-<pid>-<random>.tmp` beside an output, `ftprep-spill-<pid>-<random>`
folders in the system temporary directory. A later run removes only names of exactly this
shape whose process no longer exists, so a concurrent run's temporaries are never touched
(a live pid, even of another user, is left alone; a reused pid only delays the removal).
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

_PID = os.getpid  # looked up per call: a forked worker has its own pid
TMP_RE = re.compile(r"^\..+\.ftprep-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")
SPILL_PREFIX = "ftprep-spill-"
SPILL_RE = re.compile(r"^ftprep-spill-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def temp_prefix(target: Path) -> str:
    """The mkstemp prefix for a temporary of `target` (in the target's folder)."""
    return f".{target.name}.ftprep-{_PID()}-"


def spill_prefix() -> str:
    return f"{SPILL_PREFIX}{_PID()}-"


def pid_alive(pid: int) -> bool:
    if pid == _PID():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, it is someone else's
        return True
    return True


def remove_stale_temps(directory: Path) -> list[str]:
    """Remove `.*.ftprep-<pid>-*.tmp` files of dead processes in `directory`; the names."""
    removed = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            m = TMP_RE.match(entry.name)
            if m and entry.is_file(follow_symlinks=False) and not pid_alive(int(m["pid"])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def remove_stale_spills(directory: str | None = None) -> list[str]:
    """Remove `ftprep-spill-<pid>-*` folders of dead processes in the temporary directory."""
    base = directory or tempfile.gettempdir()
    removed = []
    with contextlib.suppress(OSError), os.scandir(base) as entries:
        for entry in entries:
            m = SPILL_RE.match(entry.name)
            if m and entry.is_dir(follow_symlinks=False) and not pid_alive(int(m["pid"])):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.name)
    return removed
