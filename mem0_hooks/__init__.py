"""mem0-hooks: long-term memory for Claude Code, through its hooks.

This file stays nearly empty on purpose: every hook imports the package on every prompt, so nothing
here may pull in a module the hot path does not need. The public pieces live in their own modules:
``mem0_hooks.queue``, ``mem0_hooks.backends``, ``mem0_hooks.config``, ``mem0_hooks.errors``.
"""

__version__ = "0.2.0"
__all__ = ["__version__"]
