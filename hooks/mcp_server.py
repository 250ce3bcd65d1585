#!/usr/bin/env python3
"""The memory tools' MCP server for the plugin route: ``.claude-plugin/plugin.json`` declares it.

Claude Code runs it with the system ``python3``, ``CLAUDE_PLUGIN_ROOT`` and ``CLAUDE_PLUGIN_DATA`` set;
``_bootstrap`` re-executes it in the plugin's venv once that is ready. Until the venv has the MCP SDK
(a first run, or a venv made before the tools existed), it starts the venv bootstrap, says so on
stderr (Claude Code's MCP log) and exits: Claude Code shows the server as failed, not hung.
"""

import _bootstrap  # noqa: F401  (puts mem0_hooks on sys.path; re-executes in the plugin venv)

try:
    import mcp  # noqa: F401
except ImportError:
    import os
    import sys

    root, data = os.environ.get("CLAUDE_PLUGIN_ROOT"), os.environ.get("CLAUDE_PLUGIN_DATA")
    if root and data:
        from mem0_hooks.install import start_plugin_bootstrap

        start_plugin_bootstrap(root, data)
    sys.stderr.write("mem0-hooks: the memory tools start once the plugin's Python environment is ready\n")
    raise SystemExit(1) from None

from mem0_hooks.mcp_server import main

raise SystemExit(main())
