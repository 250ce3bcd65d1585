"""Speak MCP to ``mem0-hooks mcp`` as Claude Code does: a child process on stdio, the SDK's own client.

    with mcp_session(cwd=project) as server:
        server.tool_names()                            # ["search_memory", ...]
        ok, answer = server.call("search_memory", {"query": "port"})   # answer: parsed JSON, or the error line

The server gets ``MEM0_HOOKS_HOME`` (and every other ``MEM0_HOOKS_*`` / ``MEM0_API_KEY`` variable) from
this process's environment, plus ``env``. Calls are synchronous: the client runs in an anyio portal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client, StdioServerParameters

SERVER_ARGV = [sys.executable, "-m", "mem0_hooks.cli.main", "mcp"]


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the server process gets on top of the SDK's default environment."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("MEM0_HOOKS_", "MEM0_API_KEY"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env.update(extra or {})
    return env


class Session:
    """One connected server: list its tools, call them."""

    def __init__(self, portal: BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def tools(self) -> list[Any]:
        return list(self.portal.call(self.client.list_tools).tools)

    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools()]

    def call_raw(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        return self.portal.call(self.client.call_tool, name, arguments or {})

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> tuple[bool, Any]:
        """``(True, parsed JSON answer)`` or ``(False, the error text)``."""
        result = self.call_raw(name, arguments)
        text = "".join(getattr(c, "text", "") for c in result.content)
        if result.is_error:
            return False, text
        return True, json.loads(text)

    def timed(self, name: str, arguments: dict[str, Any] | None = None) -> tuple[float, tuple[bool, Any]]:
        start = time.monotonic()
        outcome = self.call(name, arguments)
        return time.monotonic() - start, outcome


@contextmanager
def mcp_session(cwd: Path | str, env: Mapping[str, str] | None = None) -> Iterator[Session]:
    """Start the server in ``cwd`` and connect (the ``initialize`` handshake Claude Code 2.1.330 uses)."""
    params = StdioServerParameters(command=SERVER_ARGV[0], args=SERVER_ARGV[1:], env=server_env(env), cwd=str(cwd))
    with start_blocking_portal() as portal:
        client = Client(params, mode="legacy", read_timeout_seconds=60)
        with portal.wrap_async_context_manager(client) as connected:
            yield Session(portal, connected)
