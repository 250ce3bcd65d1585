#!/usr/bin/env python3
"""Claude Code Stop hook: enqueue the new turns and start the flusher."""

import _bootstrap  # noqa: F401  (puts mem0_hooks on sys.path)

from mem0_hooks.events.runner import main_for
from mem0_hooks.events.stop import stop

main_for("Stop", stop, seconds=8)
