#!/usr/bin/env python3
"""Claude Code SessionEnd hook: capture what Stop missed (the transcript is complete now)."""

import _bootstrap  # noqa: F401  (puts mem0_hooks on sys.path)

from mem0_hooks.events.runner import main_for
from mem0_hooks.events.session_end import session_end

main_for("SessionEnd", session_end, seconds=1)
