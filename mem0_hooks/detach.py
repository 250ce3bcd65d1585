"""Starting a background Python process that outlives the hook that starts it.

Used for the flusher (``flush.spawn``) and the warm process (``relay.start_warm``): the child gets
its own session (``setsid``, so Claude Code's process-group signals do not reach it), stdio on
``/dev/null`` (so Claude Code does not wait for pipes it holds), this process's environment, and is
never waited for. ``os.posix_spawn`` rather than ``subprocess``: no import, no fork of a big process.
"""

import os
import sys


def spawn_python(*args: str) -> None:
    """Run ``sys.executable *args`` detached; OSError when it cannot be started."""
    devnull = os.devnull
    os.posix_spawn(
        sys.executable,
        [sys.executable, *args],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
        ],
        setsid=True,
    )
