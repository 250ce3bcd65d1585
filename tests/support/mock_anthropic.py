"""A stdlib-only stand-in for the Anthropic Messages API, for running the real ``claude`` CLI in tests.

Usage::

    with MockAnthropic(reply="Hi there.") as api:
        run_claude("hello", api=api, ...)      # ANTHROPIC_BASE_URL=api.base_url
        assert api.requests[0]["messages"][-1]["role"] == "user"

``reply`` is either a string or a callable that receives the parsed request body and returns the
reply text, so a test can script a conversation; the callable may also return a :class:`ToolUse`,
which the mock sends as a ``tool_use`` block (``stop_reason: "tool_use"``): the CLI then runs the
tool and posts again with its ``tool_result``. The server binds 127.0.0.1 on an ephemeral port.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ToolUse:
    """A reply that calls ``name`` (one of the request's ``tools``) with ``input``."""

    def __init__(self, name: str, input: dict[str, Any]) -> None:
        self.name = name
        self.input = input


Reply = str | Callable[[dict[str, Any]], "str | ToolUse"]
_EMPTY_TEXT = {"type": "text", "text": ""}


def offered_tool(body: dict[str, Any], suffix: str) -> str | None:
    """The name of an MCP tool the request offers whose name ends with ``suffix`` (e.g. ``__search_memory``).

    Claude Code 2.1.330 sends MCP tools "deferred": not in ``tools`` but named in a system reminder
    (``ToolSearch`` loads their schemas); a ``tool_use`` of a listed name runs the tool all the same.
    """
    for tool in body.get("tools") or []:
        if str(tool.get("name", "")).endswith(suffix):
            return str(tool["name"])
    import re

    found = re.search(r"mcp__[A-Za-z0-9_-]+?" + re.escape(suffix), json.dumps(body))
    return found.group(0) if found else None


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``tool_result`` block in the request's messages, in order."""
    return [
        block
        for message in body.get("messages") or []
        if isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]


class MockAnthropic:
    """Answer ``POST /v1/messages`` with a canned text reply and record every request body."""

    def __init__(self, reply: Reply = "Hello from the mock.") -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []  # parsed bodies of POST /v1/messages, in order
        self.raw_bodies: list[str] = []  # the same requests as received, for substring checks
        self.headers: list[dict[str, str]] = []  # the same requests' headers
        self.log: list[tuple[str, str]] = []  # (method, path) of every request, any endpoint
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL to put in ``ANTHROPIC_BASE_URL``."""
        assert self._server is not None, "MockAnthropic is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def raw_text(self) -> str:
        """All recorded ``/v1/messages`` bodies joined, for "did X reach the model" assertions."""
        with self._lock:
            return "\n".join(self.raw_bodies)

    def __enter__(self) -> MockAnthropic:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown() from costing half a second per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.log.append((method, path))

    def _answer(self, body: dict[str, Any], raw: str, headers: dict[str, str]) -> tuple[str | ToolUse, str]:
        """Record one Messages request; return the reply (text or a tool call) and a fresh message id."""
        with self._lock:
            self.requests.append(body)
            self.raw_bodies.append(raw)
            self.headers.append(headers)
            msg_id = f"msg_mock_{next(self._ids):04d}"
        text = self.reply(body) if callable(self.reply) else self.reply
        return text, msg_id


def _message(msg_id: str, model: str, reply: str | ToolUse, input_tokens: int) -> dict[str, Any]:
    if isinstance(reply, ToolUse):
        block: dict[str, Any] = {"type": "tool_use", "id": f"toolu_{msg_id}", "name": reply.name, "input": reply.input}
        stop, size = "tool_use", len(json.dumps(reply.input))
    else:
        block, stop, size = {"type": "text", "text": reply}, "end_turn", len(reply)
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": max(1, size // 4)},
    }


def _sse_events(message: dict[str, Any]) -> bytes:
    """Split a complete message into the event sequence the streaming API sends."""
    block = message["content"][0]
    start = dict(message, content=[], stop_reason=None, usage=dict(message["usage"], output_tokens=0))
    if block["type"] == "tool_use":
        opening: dict[str, Any] = dict(block, input={})
        kind, field, text = "input_json_delta", "partial_json", json.dumps(block["input"])
    else:
        opening, kind, field, text = _EMPTY_TEXT, "text_delta", "text", block["text"]
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opening}),
    ]
    # Several deltas, not one, so the client's reassembly is exercised as it is against the real API.
    for i in range(0, len(text), 16):
        delta = {"type": kind, field: text[i : i + 16]}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def _make_handler(api: MockAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean; api.log has the request list

        def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def do_HEAD(self) -> None:
            api._record("HEAD", self.path)
            self._send(200, b"{}")

        def do_GET(self) -> None:
            api._record("GET", self.path)
            self._send(200, b"{}")

        def do_POST(self) -> None:
            api._record("POST", self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            route = self.path.split("?", 1)[0]
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            input_tokens = max(1, len(raw) // 4)
            if route == "/v1/messages/count_tokens":
                self._send(200, json.dumps({"input_tokens": input_tokens}).encode())
            elif route == "/v1/messages":
                reply, msg_id = api._answer(body, raw, dict(self.headers.items()))
                message = _message(msg_id, body.get("model", "mock-model"), reply, input_tokens)
                if body.get("stream"):
                    self._send(200, _sse_events(message), "text/event-stream")
                else:
                    self._send(200, json.dumps(message).encode())
            else:
                self._send(200, b"{}")

    return Handler
