"""``mem0-hooks mcp``: the memory tools (``memory_tools``) as a stdio MCP server, on the official SDK.

Claude Code starts it (registered by ``mem0-hooks install`` or declared by the plugin) in the
directory it runs in; the project is the one the hooks would see there (``project.project_of``, which
also reads ``CLAUDE_PROJECT_DIR``). Five tools, each with a JSON Schema, annotations (the two reads
``readOnlyHint``, the deletes ``destructiveHint``, so Claude Code asks before they run), and a
JSON text answer.

Never a crash, never a hang: arguments are checked here (a wrong type is a tool error naming the
argument, not the SDK's multi-line validation dump); each call runs in a worker thread under a
deadline (the recall deadline for a search, ``mem0.write_timeout_seconds`` for the rest) and one at
a time (a call abandoned at its deadline keeps the store until it ends; the next waits for it within
its own deadline); every failure is a tool error (``isError``) with one line saying what to do, and
one line in ``mem0-hooks.log``. stdout carries protocol only: the SDK points fd 1 at stderr while it
serves, and nothing here prints.

Start-up cost is the SDK's import (most of it its protocol types); the config, the store and httpx
are loaded at the first tool call, so ``initialize`` is answered as soon as the SDK is in.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

SERVER_NAME = "mem0-hooks"
TOOL_NAMES = ("search_memory", "add_memories", "list_memories", "delete_memories", "delete_all_memories")
READ_ONLY_TOOLS = ("search_memory", "list_memories")
SEARCH_GRACE_SECONDS = 1.0  # past the recall deadline, for the local fallback and the answer itself

INSTRUCTIONS = (
    "Long-term memory of this project's past Claude Code sessions (what was said, decided and done) and "
    "the user's notes. Relevant memories are already injected with each prompt; use search_memory to look "
    "further back or for something the injected block missed, add_memories to keep a fact or decision on "
    "purpose, list_memories to browse, delete_memories / delete_all_memories only when the user asks to forget."
)

_STRING = {"type": "string"}


def tool_specs() -> list[dict[str, Any]]:
    """Name, description, input schema and annotations of each tool (the SDK turns them into ``Tool``)."""
    from mem0_hooks import memory_tools as t

    return [
        {
            "name": "search_memory",
            "title": "Search memory",
            "description": (
                "Search the memories of this project (past conversation turns and notes) and the user-wide notes "
                f"for a query; returns JSON: up to {t.SEARCH_LIMIT} memories (id, text, role, date, score), best "
                "first, ranked as the prompt recall ranks them."
            ),
            "input_schema": {
                "type": "object",
                "properties": {"query": dict(_STRING, description="what to look for: key words or a question")},
                "required": ["query"],
                "additionalProperties": False,
            },
            "annotations": {"read_only_hint": True, "open_world_hint": False},
        },
        {
            "name": "add_memories",
            "title": "Remember a note",
            "description": (
                "Remember a fact, decision or preference for this project on purpose, so later sessions recall it. "
                "Secrets in the text are redacted before it is stored. Returns JSON with the memory id and whether "
                "the store confirmed it ('stored') or it waits in the local queue ('queued')."
            ),
            "input_schema": {
                "type": "object",
                "properties": {"text": dict(_STRING, description=f"the note, at most {t.MAX_NOTE_CHARS:,} characters")},
                "required": ["text"],
                "additionalProperties": False,
            },
            "annotations": {"read_only_hint": False, "destructive_hint": False, "idempotent_hint": True},
        },
        {
            "name": "list_memories",
            "title": "List memories",
            "description": (
                "List this project's memories, newest first, one page at a time; returns JSON with the memories "
                "(id, text, role, date) and next_offset to pass for the next page (null on the last)."
            ),
            "input_schema": {
                "type": "object",
                "properties": {
                    "offset": {"type": "integer", "minimum": 0, "default": 0, "description": "memories to skip"},
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": t.MAX_PAGE,
                        "default": t.LIST_PAGE,
                        "description": "memories in this page",
                    },
                },
                "additionalProperties": False,
            },
            "annotations": {"read_only_hint": True, "open_world_hint": False},
        },
        {
            "name": "delete_memories",
            "title": "Forget memories",
            "description": (
                "Forget the memories with these ids (from search_memory or list_memories), for good. Only when the "
                "user asks to forget something."
            ),
            "input_schema": {
                "type": "object",
                "properties": {
                    "memory_ids": {
                        "type": "array",
                        "items": _STRING,
                        "minItems": 1,
                        "maxItems": t.MAX_IDS,
                        "description": "ids of the memories to forget",
                    }
                },
                "required": ["memory_ids"],
                "additionalProperties": False,
            },
            "annotations": {"read_only_hint": False, "destructive_hint": True, "idempotent_hint": True},
        },
        {
            "name": "delete_all_memories",
            "title": "Forget this project",
            "description": (
                "Forget every memory of this project, for good (other projects and user-wide notes stay). Only when "
                "the user asks for it."
            ),
            "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
            "annotations": {"read_only_hint": False, "destructive_hint": True, "idempotent_hint": True},
        },
    ]


# -- arguments ----------------------------------------------------------------------------------------
_JSON_TYPES = {str: "a string", int: "an integer", list: "an array of strings"}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "an integer", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def check_arguments(tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments as the tool function takes them; ToolFailed naming the argument when one is wrong."""
    from mem0_hooks.memory_tools import LIST_PAGE, ToolFailed

    args = dict(arguments or {})
    table: dict[str, dict[str, tuple[type, Any]]] = {  # argument -> (type, default; ... when required)
        "search_memory": {"query": (str, ...)},
        "add_memories": {"text": (str, ...)},
        "list_memories": {"offset": (int, 0), "limit": (int, LIST_PAGE)},
        "delete_memories": {"memory_ids": (list, ...)},
        "delete_all_memories": {},
    }
    expected = table[tool]
    unknown = sorted(set(args) - set(expected))
    if unknown:
        allowed = ", ".join(expected) or "none"
        raise ToolFailed(f"{tool} takes no argument {unknown[0]!r} (arguments: {allowed})")
    checked: dict[str, Any] = {}
    for name, (kind, default) in expected.items():
        if name not in args or (args[name] is None and default is not ...):
            if default is ...:
                raise ToolFailed(f"{tool} needs the argument {name!r} ({_JSON_TYPES[kind]})")
            checked[name] = default
            continue
        value = args[name]
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)  # 20.0 from a client that does not tell integers from numbers
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ToolFailed(f"{name} must be {_JSON_TYPES[kind]}, got {_type_name(value)}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            bad = next(v for v in value if not isinstance(v, str))
            raise ToolFailed(f"{name} must be an array of strings; it holds {_type_name(bad)}")
        checked[name] = value
    return checked


# -- running a tool -----------------------------------------------------------------------------------
class Tools:
    """Runs the tools for one server process: config, project, store, the one-at-a-time lock."""

    def __init__(self, cwd: str | None = None) -> None:
        self.cwd = cwd
        self._busy = threading.Lock()
        self._store: tuple[str, Any] | None = None  # (what it was opened for, the store)

    def project(self) -> str:
        from mem0_hooks.project import project_of

        # project_of(None) takes CLAUDE_PROJECT_DIR, else the working directory (what Claude Code gives us).
        return project_of(self.cwd)

    def store(self, config: dict[str, Any]) -> Any:
        """The store list and delete work on: the embedded one (kept open, as recall keeps it), or the remote."""
        if config["backend"] == "local":
            from mem0_hooks import recall

            return recall.local_store()
        key = json.dumps([config["backend"], config["user_id"], config["mem0"]], sort_keys=True, default=str)
        if self._store is None or self._store[0] != key:
            from mem0_hooks.backends.hybrid import open_store

            if self._store is not None:
                self._store[1].close()
            self._store = (key, open_store(config))
        return self._store[1]

    def deadline(self, tool: str, config: dict[str, Any]) -> float:
        """Seconds a tool may take before it answers with an error."""
        mem0 = config["mem0"]
        if tool == "search_memory":
            return float(mem0["recall_timeout_seconds"]) + SEARCH_GRACE_SECONDS
        return float(mem0["write_timeout_seconds"])

    def run(self, tool: str, arguments: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """Run one tool (in the calling thread); raises what the tool raises."""
        from mem0_hooks import memory_tools as t
        from mem0_hooks.project import locate

        place = locate(self.cwd or None)  # (None: CLAUDE_PROJECT_DIR, else the working directory)
        project = place.id
        t.check_project(place, config)
        if tool == "search_memory":
            return t.search_memory(arguments["query"], project=project, config=config)
        if tool == "add_memories":
            return t.add_memories(arguments["text"], project=project, config=config)
        store = self.store(config)
        if tool == "list_memories":
            return t.list_memories(offset=arguments["offset"], limit=arguments["limit"], project=project, store=store)
        if tool == "delete_memories":
            return t.delete_memories(arguments["memory_ids"], project=project, store=store)
        return t.delete_all_memories(project=project, store=store)

    def locked(self, tool: str, arguments: dict[str, Any], config: dict[str, Any], until: float) -> dict[str, Any]:
        """``run`` once the previous call has let go of the store, if it does before ``until``."""
        from mem0_hooks.memory_tools import ToolFailed

        if not self._busy.acquire(timeout=max(until - time.monotonic(), 0.0)):
            raise ToolFailed(
                "the memory store is still busy with an earlier call that did not finish in time; try again shortly"
            )
        try:
            return self.run(tool, arguments, config)
        finally:
            self._busy.release()


def failure_reason(exc: BaseException, backend: str) -> str:
    """What the model is told about a failure: one line that says what happened and what to do."""
    import sqlite3

    from mem0_hooks.errors import BackendError, ConfigError, QueueError
    from mem0_hooks.memory_tools import ToolFailed

    if isinstance(exc, ToolFailed):
        text = str(exc)
    elif isinstance(exc, BackendError):
        text = f"the {backend} memory store cannot answer: {exc}"
    elif isinstance(exc, sqlite3.Error):
        text = f"the local memory store cannot answer: {exc} (`mem0-hooks doctor` checks it)"
    elif isinstance(exc, QueueError):
        text = f"the note could not be queued: {exc}"
    elif isinstance(exc, ConfigError):
        text = f"mem0-hooks is misconfigured: {exc} (`mem0-hooks doctor` says what to fix)"
    else:
        text = f"internal error ({type(exc).__name__}); details in mem0-hooks.log"
    return " ".join(text.split())


async def answer(tools: Tools, tool: str, arguments: dict[str, Any] | None) -> tuple[bool, str]:
    """Check, run under its deadline and answer one tool call: ``(is_error, text)``; never raises."""
    import anyio

    from mem0_hooks.log import log, log_exception
    from mem0_hooks.memory_tools import ToolFailed

    backend = "memory"
    try:
        if tool not in TOOL_NAMES:
            raise ToolFailed(f"no tool {tool!r}; the tools are {', '.join(TOOL_NAMES)}")
        checked = check_arguments(tool, arguments)
        from mem0_hooks import config as config_mod

        config = config_mod.load()  # a stat and a small read, unless config.yaml changed
        backend = config["backend"]
        seconds = tools.deadline(tool, config)
        until = time.monotonic() + seconds
        try:
            with anyio.fail_after(seconds):
                # abandon_on_cancel: a store call stuck past the deadline finishes on its own, holding the
                # store lock; the model gets its answer now.
                result = await anyio.to_thread.run_sync(
                    lambda: tools.locked(tool, checked, config, until), abandon_on_cancel=True
                )
        except TimeoutError:
            raise ToolFailed(
                f"{tool} gave up after {seconds:.1f}s: the {backend} memory store did not answer in time; "
                "try again later (`mem0-hooks status` shows the store)"
            ) from None
        return False, json.dumps(result, ensure_ascii=False, indent=1)
    except Exception as exc:  # noqa: BLE001 - a tool never crashes the server: the model gets one line
        reason = failure_reason(exc, backend)
        if isinstance(exc, ToolFailed):
            log(f"mcp {tool}: {reason}", level="WARNING")
        else:
            log_exception(f"mcp {tool}", exc)
        return True, reason


# -- the server -----------------------------------------------------------------------------------------
def build_server(tools: Tools) -> Any:
    """The SDK's low-level ``Server`` with the five tools (low-level: the schemas and errors are ours)."""
    import mcp_types as types
    from mcp.server.lowlevel import Server

    from mem0_hooks import __version__

    listed = types.ListToolsResult(
        tools=[
            types.Tool(
                name=spec["name"],
                title=spec["title"],
                description=spec["description"],
                input_schema=spec["input_schema"],
                annotations=types.ToolAnnotations(title=spec["title"], **spec["annotations"]),
            )
            for spec in tool_specs()
        ]
    )

    async def list_tools(ctx: Any, params: Any) -> Any:
        return listed

    async def call_tool(ctx: Any, params: Any) -> Any:
        is_error, text = await answer(tools, params.name, params.arguments)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error)

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve(cwd: str | None = None) -> int:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    import logging

    import anyio
    from mcp.server.stdio import stdio_server

    # The SDK logs each failed tool at INFO; the log line we write is the one that counts, and stderr
    # (which Claude Code keeps in its MCP log) gets only warnings.
    logging.basicConfig(level=logging.WARNING, format="mem0-hooks mcp: %(message)s")
    server = build_server(Tools(cwd))

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)
    return 0


def main() -> int:
    """Entry point of ``mem0-hooks mcp``; a failure to start is one line on stderr and in the log."""
    os.umask(0o077)
    try:
        return serve()
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001
        from mem0_hooks.log import log_exception

        log_exception("mcp server", exc)
        import sys

        print(f"mem0-hooks mcp: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
