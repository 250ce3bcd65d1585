#!/usr/bin/env python3
"""Claude Code PreCompact hook: capture the whole transcript before it is compacted."""

import _bootstrap  # noqa: F401  (puts mem0_hooks on sys.path)

from mem0_hooks.events.runner import main_for
from mem0_hooks.events.session_end import pre_compact

main_for("PreCompact", pre_compact, seconds=8)
