#!/usr/bin/env python3
"""Claude Code UserPromptSubmit hook: capture the prompt, inject relevant memories."""

import _bootstrap  # noqa: F401  (puts mem0_hooks on sys.path)

from mem0_hooks.events.user_prompt_submit import user_prompt_submit
from mem0_hooks.events.runner import main_for

main_for("UserPromptSubmit", user_prompt_submit, seconds=8)
