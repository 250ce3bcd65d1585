#!/usr/bin/env python3
"""The memory tools' MCP server for the plugin route: ``.claude-plugin/plugin.json`` declares it.

Claude Code runs it through ``plugin-hook.sh``, like the hooks: with the data dir's virtualenv once the
plugin's setup has made it, else with ``python3``. Until the virtualenv has the MCP SDK (a first run,
or one made before the tools existed), it starts that setup, says so on stderr (Claude Code's MCP log)
and exits: Claude Code shows the server as failed, not hung, and starts it again in a later session.
"""

import _bootstrap  # noqa: F401  (puts mem0_hooks and the venv's packages on sys.path)

try:
    import mcp  # noqa: F401
except ImportError:
    import os
    import sys

    root = os.environ.get("CLAUDE_PLUGIN_ROOT")
    if root:
        from mem0_hooks import paths
        from mem0_hooks.plugin import start_plugin_setup

        start_plugin_setup(root, paths.home())
    sys.stderr.write("mem0-hooks: the memory tools start once the plugin's Python environment is ready\n")
    raise SystemExit(1) from None

from mem0_hooks.mcp_server import main

raise SystemExit(main())
