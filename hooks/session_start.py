#!/usr/bin/env python3
"""Claude Code SessionStart hook: inject what matters for this project."""

import _bootstrap  # noqa: F401  (puts mem0_hooks on sys.path)

from mem0_hooks.events.session_start import session_start
from mem0_hooks.events.runner import main_for

main_for("SessionStart", session_start, seconds=8)
