"""``mcp``: serve the memory tools to Claude Code over stdio (``mem0_hooks.mcp_server``).

Claude Code starts this itself (``mem0-hooks install`` registers it; the plugin declares it); run
by hand it waits for an MCP client on stdin.
"""

from __future__ import annotations


def mcp() -> int:
    from mem0_hooks import mcp_server

    return mcp_server.main()
