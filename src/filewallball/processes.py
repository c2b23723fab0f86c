"""Whether a process still runs, for what a process leaves behind it: the metrics files
of a worker, the metrics directory of a server killed before it could remove it."""

from __future__ import annotations

import os


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
