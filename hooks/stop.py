#!/usr/bin/env python3
"""Claude Code Stop hook: enqueue the new turns and start the flusher.

Served by the warm process when one runs and the new tail is short (``mem0_hooks.relay``), else done
in this process.
"""

import _bootstrap  # noqa: F401  (puts mem0_hooks on sys.path)

from mem0_hooks.relay import main

main("Stop")
