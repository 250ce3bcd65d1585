"""Real HTTP stand-ins for the three Mem0 deployments, for tests (stdlib only).

Each fake is a ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port, used as a context manager.
It keeps an in-memory store (so add-then-search works: scores are word overlap, not embeddings),
answers with the routes, status codes and bodies of the project's spec (``mem0-apis.md``), records
every request, and has fault switches::

    with FakePlatform(api_key="m0-test") as fake:          # also FakeOpenMemory(), FakeServer()
        config["mem0"]["base_url"] = fake.base_url
        ...
        fake.requests                    # [Request(method, path, query, headers, body, raw)], in order
        fake.requests_to("/v1/memories/", method="POST")
        fake.last("/v2/memories/search/").body["filters"]
        fake.memories                    # {id: record} — the store, for assertions or direct setup
        fake.seed("text", user_id="alice", metadata={...})   # put a memory in without an HTTP call

    fake.down()                          # stop listening and drop open connections: clients get "refused"
    fake.up()                            # listen again on the same port
    fake.fail_with(503, {"detail": "x"}, headers={"Retry-After": "7"}, times=2, match="/search")
    fake.delay(3.0, times=1, match="/search")   # sleep before answering (interrupted on down/exit)
    fake.reset_faults()
    fake.config(user_id="bob", mem0={"recall_timeout_seconds": 0.5})   # a config dict for this fake

``fail_with`` and ``delay`` apply to the next ``times`` requests whose path contains ``match``
(every path when ``match`` is None; ``times=None`` means until ``reset_faults``). A failure's body is
JSON-encoded (``None`` sends JSON ``null``; pass ``bytes`` to send raw text). The request is recorded
before any fault applies.

Deployment-specific switches are plain attributes, documented on each class (``FakePlatform.strict_entities``,
``FakeOpenMemory.llm_error``, ``FakeOpenMemory.mcp_tool_error``, ``FakeServer.provider_down``, …).
Bodies the spec does not give (e.g. a 400 for an unknown filter field) are chosen here and marked
"fake-chosen".
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FakeMem0", "FakeOpenMemory", "FakePlatform", "FakeServer", "Request", "Response", "overlap_score"]

NO_BODY = object()  # a Response body that sends no bytes at all (202, 307)


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str  # without the query string, percent-decoded
    query: dict[str, str]  # first value of each query parameter
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON (None when empty or not JSON)
    raw: bytes = b""


@dataclass
class Response:
    """What a route answers: a JSON body (or ``bytes``, or ``NO_BODY``), status and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class _Fault:
    kind: str  # "fail" | "delay"
    remaining: int | None
    match: str | None
    response: Response | None = None
    seconds: float = 0.0


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1}


def overlap_score(query: str, text: str) -> float:
    """Share of the query's words found in ``text`` (0..1): the fakes' stand-in for vector similarity."""
    q = _words(query)
    return len(q & _words(text)) / len(q) if q else 0.0


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class FakeMem0:
    """The server machinery the three fakes share: lifecycle, recording, faults."""

    service = "fake"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.memories: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._connections: set[socket.socket] = set()
        self._wake = threading.Event()  # set on down()/exit: delayed handlers stop waiting

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, stable across ``down()``/``up()``."""
        assert self._port, f"{type(self).__name__} was never started"
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> FakeMem0:
        self.up()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    def up(self) -> None:
        """Start listening (again, on the same port after ``down``)."""
        if self._server is not None:
            return
        self._wake.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening and drop every open connection: new requests are refused."""
        self._wake.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- config ------------------------------------------------------------------------------------
    default_key: str | None = None

    def config(
        self,
        *,
        user_id: str = "alice",
        mem0: dict[str, Any] | None = None,
        privacy: dict[str, Any] | None = None,
        **top: Any,
    ) -> dict[str, Any]:
        """A validated-shape config (``config_model`` defaults) whose backend is this fake.

        ``mem0`` / ``privacy`` entries override that section (``mem0={"api_key": None}``), other
        keywords override top-level keys. The API key is the fake's own unless overridden.
        """
        from mem0_hooks.config_model import Config

        config = Config().model_dump()
        config.update(backend=self.service, user_id=user_id, **top)
        config["mem0"].update({"base_url": self.base_url, "api_key": self.default_key, **(mem0 or {})})
        config["privacy"].update(**(privacy or {}))
        return config

    # -- faults ------------------------------------------------------------------------------------
    def fail_with(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        times: int | None = 1,
        match: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and ``body`` instead of the route."""
        with self._lock:
            self._faults.append(_Fault("fail", times, match, Response(status, body, dict(headers or {}))))

    def delay(self, seconds: float, *, times: int | None = None, match: str | None = None) -> None:
        """Sleep ``seconds`` before answering the next ``times`` matching requests (all, when None)."""
        with self._lock:
            self._faults.append(_Fault("delay", times, match, seconds=seconds))

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, kind: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and (fault.match is None or fault.match in path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- recording ---------------------------------------------------------------------------------
    def requests_to(self, path: str, method: str | None = None) -> list[Request]:
        """Recorded requests whose path starts with ``path`` (and whose method is ``method``)."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path) and (method is None or r.method == method)]

    def last(self, path: str = "", method: str | None = None) -> Request:
        found = self.requests_to(path, method)
        assert found, f"no {method or ''} request to {path!r}; got {[(r.method, r.path) for r in self.requests]}"
        return found[-1]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- dispatch ----------------------------------------------------------------------------------
    def route(self, request: Request) -> Response:  # pragma: no cover - each fake overrides
        raise NotImplementedError

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._connections.add(handler.connection)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        request = Request(
            method=handler.command,
            path=unquote(parts.path),
            query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            raw=raw,
        )
        with self._lock:
            self.requests.append(request)
        delay = self._take("delay", request.path)
        if delay is not None and self._wake.wait(delay.seconds):
            handler.close_connection = True
            return  # went down while waiting: answer nothing
        failure = self._take("fail", request.path)
        if failure is not None and failure.response is not None:
            response = failure.response
        else:
            try:
                with self._lock:
                    response = self.route(request)
            except Exception as exc:  # noqa: BLE001 - a bug in the fake shows as a 500 with the reason
                response = Response(500, {"detail": f"fake {type(self).__name__} crashed: {exc!r}"})
        self._send(handler, response)

    def _send(self, handler: BaseHTTPRequestHandler, response: Response) -> None:
        if response.body is NO_BODY:
            data = b""
        elif isinstance(response.body, bytes):
            data = response.body
        else:
            data = json.dumps(response.body).encode()
        try:
            handler.send_response(response.status)
            if data or response.body is not NO_BODY:
                handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in {**self.extra_headers(), **response.headers}.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    def extra_headers(self) -> dict[str, str]:
        return {}


def _make_handler(fake: FakeMem0) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real servers
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def _any(self) -> None:
            try:
                fake._serve(self)
            except OSError:
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler


# ==================================================================================================
# A1. Mem0 Platform
# ==================================================================================================
_ENTITIES = ("user_id", "agent_id", "app_id", "run_id")
_V2_FILTER_FIELDS = {*_ENTITIES, "created_at", "updated_at", "categories", "keywords"}
_PLATFORM_401 = {"detail": "Invalid API key. You can find your API key on https://app.mem0.ai/dashboard/api-keys."}
_PLATFORM_400 = {
    "error": "400 Bad Request",
    "details": {"message": "Invalid input data. Please refer to the docs: quickstart#4-1-create-memories"},
}


class FakePlatform(FakeMem0):
    """``https://api.mem0.ai`` as the spec describes it (A1). Needs ``Authorization: Token <api_key>``.

    Switches:
      ``process_adds`` (True): adds become memories at once (their event SUCCEEDED); False keeps them
        PENDING until ``process_pending()``, like the real asynchronous pipeline.
      ``strict_entities`` (False): the behaviour reported in mem0 issue threads: an add with both
        ``user_id`` and ``agent_id`` attributes a user message to the user only and an assistant
        message to the agent only, and a filter group matches only records whose entity ids it does
        not name are null.
    Memory records: ``{"id","memory","user_id","agent_id","app_id","run_id","metadata","categories",
    "created_at","updated_at","expiration_date"}``.
    """

    service = "platform"

    def __init__(
        self, api_key: str = "m0-test-key", *, org_id: str = "org_test", project_id: str = "proj_test"
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.org_id = org_id
        self.project_id = project_id
        self.process_adds = True
        self.strict_entities = False
        self.default_key = api_key
        self.events: dict[str, dict[str, Any]] = {}
        self._pending: list[tuple[str, list[dict[str, Any]]]] = []

    def seed(
        self,
        text: str,
        *,
        user_id: str | None = "alice",
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Store a memory directly; returns its id."""
        with self._lock:
            record = self._record(text, user_id, agent_id, None, run_id, metadata or {}, None)
            self.memories[record["id"]] = record
            return record["id"]

    def process_pending(self) -> int:
        """Finish every PENDING add (``process_adds=False``); returns how many memories appeared."""
        with self._lock:
            made = 0
            for event_id, records in self._pending:
                for record in records:
                    self.memories[record["id"]] = record
                    made += 1
                self.events[event_id].update(
                    status="SUCCEEDED",
                    results=[{"id": r["id"], "event": "ADD", "data": {"memory": r["memory"]}} for r in records],
                )
            self._pending.clear()
            return made

    def _record(
        self,
        text: str,
        user_id: Any,
        agent_id: Any,
        app_id: Any,
        run_id: Any,
        metadata: dict[str, Any],
        expiration: Any,
    ) -> dict[str, Any]:
        now = _now_iso()
        return {
            "id": str(uuid.uuid4()),
            "memory": text,
            "user_id": user_id,
            "agent_id": agent_id,
            "app_id": app_id,
            "run_id": run_id,
            "metadata": metadata,
            "categories": [],
            "created_at": now,
            "updated_at": now,
            "expiration_date": expiration,
        }

    def _public(self, record: dict[str, Any], score: float | None = None, *, v2: bool = True) -> dict[str, Any]:
        out = {
            k: record[k]
            for k in (
                "id",
                "memory",
                "user_id",
                "agent_id",
                "app_id",
                "metadata",
                "categories",
                "expiration_date",
                "created_at",
                "updated_at",
            )
        }
        if v2:
            out["session_id"] = record["run_id"]  # v2 calls the run id session_id
        else:
            out["run_id"] = record["run_id"]
        if score is not None:
            out["score"] = score
        return out

    def route(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Token {self.api_key}":
            return Response(401, _PLATFORM_401)
        p, m = req.path, req.method
        if p == "/v1/ping/" and m == "GET":
            return Response(
                200,
                {
                    "status": "ok",
                    "org_id": self.org_id,
                    "project_id": self.project_id,
                    "user_email": "tester@example.com",
                },
            )
        if p == "/v1/memories/" and m == "POST":
            return self._add(req.body or {})
        if p == "/v1/memories/" and m == "GET":
            return self._get_all_v1(req.query)
        if p == "/v1/memories/" and m == "DELETE":
            return self._delete_filtered(req.query)
        if p == "/v2/memories/search/" and m == "POST":
            return self._search_v2(req.body or {})
        if p == "/v2/memories/" and m == "POST":
            return self._get_all_v2(req.body or {}, req.query)
        if p == "/v1/batch/" and m == "DELETE":
            ids = [e.get("memory_id") for e in (req.body or {}).get("memories") or [] if isinstance(e, dict)]
            deleted = sum(1 for i in ids if self.memories.pop(str(i), None) is not None)
            return Response(200, {"message": f"Successfully deleted {deleted} memories"})  # fake-chosen body
        found = re.fullmatch(r"/v1/event/([^/]+)/", p)
        if found and m == "GET":
            event = self.events.get(found.group(1))
            if event is None:
                return Response(404, {"error": "Event not found or you don't have permission to access it."})
            return Response(200, event)
        found = re.fullmatch(r"/v1/memories/([^/]+)/", p)
        if found and m in ("GET", "DELETE", "PUT"):
            memory_id = found.group(1)
            if not _is_uuid(memory_id):
                return Response(400, {"error": "memory_id should be a valid UUID"})
            record = self.memories.get(memory_id)
            if record is None:
                return Response(404, {"error": "Memory not found!"})
            if m == "GET":
                return Response(200, self._public(record, v2=False))
            if m == "DELETE":
                del self.memories[memory_id]
                return Response(200, {"message": "Memory deleted successfully!"})
            body = req.body or {}
            if "text" in body:
                record["memory"] = body["text"]
            if "metadata" in body:
                record["metadata"] = body["metadata"]
            record["updated_at"] = _now_iso()
            return Response(200, self._public(record, v2=False))
        return Response(404, {"detail": "Not found."})

    def _add(self, body: dict[str, Any]) -> Response:
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(x, dict) and x.get("role") and isinstance(x.get("content"), str) for x in messages)
            or not any(body.get(k) for k in _ENTITIES)
        ):
            return Response(400, _PLATFORM_400)
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        records = []
        for message in messages:
            if message["role"] == "system":
                continue
            user_id, agent_id = body.get("user_id"), body.get("agent_id")
            if self.strict_entities and user_id and agent_id:
                if message["role"] == "assistant":
                    user_id = None
                else:
                    agent_id = None
            records.append(
                self._record(
                    message["content"],
                    user_id,
                    agent_id,
                    body.get("app_id"),
                    body.get("run_id"),
                    dict(metadata),
                    body.get("expiration_date"),
                )
            )
        event_id = str(uuid.uuid4())
        self.events[event_id] = {
            "id": event_id,
            "event_type": "ADD",
            "status": "PENDING",
            "payload": body,
            "metadata": metadata,
            "results": [],
            "created_at": _now_iso(),
            "error": None,
        }
        self._pending.append((event_id, records))
        if self.process_adds:
            self.process_pending()
        if body.get("async_mode") is False:
            self.process_pending()
            return Response(200, {"results": [{"id": r["id"], "event": "ADD", "memory": r["memory"]} for r in records]})
        queued = [
            {
                "message": "Memory processing has been queued for background execution",
                "status": "PENDING",
                "event_id": event_id,
            }
        ]
        if body.get("output_format") == "v1.1":
            return Response(200, {"results": queued})
        return Response(200, queued)

    # v2 filters ------------------------------------------------------------------------------------
    def _bad_filter(self, node: Any) -> str | None:
        if not isinstance(node, dict):
            return "filters must be an object"
        for key, value in node.items():
            if key in ("AND", "OR", "NOT"):
                if not isinstance(value, list):
                    return f"{key} takes a list"
                for part in value:
                    problem = self._bad_filter(part)
                    if problem:
                        return problem
            elif key not in _V2_FILTER_FIELDS:
                return f"Invalid filter field: {key}"  # fake-chosen body
        return None

    def _matches(self, node: dict[str, Any], record: dict[str, Any], strict: bool) -> bool:
        if len(node) == 1 and next(iter(node)) in ("AND", "OR", "NOT"):
            op, parts = next(iter(node.items()))
            if op == "OR":
                return any(self._matches(part, record, strict) for part in parts)
            if op == "NOT":
                return not any(self._matches(part, record, False) for part in parts)
            if not all(self._matches(part, record, False) for part in parts):
                return False
            named = {k for part in parts for k in part if k in _ENTITIES}
            return self._scoped(named, record) if strict else True
        if not all(self._condition(record.get(k), v) for k, v in node.items()):
            return False
        return self._scoped({k for k in node if k in _ENTITIES}, record) if strict else True

    def _scoped(self, named: set[str], record: dict[str, Any]) -> bool:
        return not named or all(record.get(k) is None for k in _ENTITIES if k not in named)

    @staticmethod
    def _condition(value: Any, condition: Any) -> bool:
        if condition == "*":
            return value is not None
        if isinstance(condition, dict):
            for op, arg in condition.items():
                if op == "in" and value not in arg:
                    return False
                if op == "ne" and value == arg:
                    return False
                if op in ("contains", "icontains"):
                    hay = json.dumps(value) if not isinstance(value, str) else value
                    if (str(arg).lower() not in hay.lower()) if op == "icontains" else (str(arg) not in hay):
                        return False
                if op in ("gt", "gte", "lt", "lte"):
                    if value is None:
                        return False
                    ok = {"gt": value > arg, "gte": value >= arg, "lt": value < arg, "lte": value <= arg}[op]
                    if not ok:
                        return False
            return True
        return bool(value == condition)

    def _filtered(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in self.memories.values() if self._matches(filters, r, self.strict_entities)]

    def _search_v2(self, body: dict[str, Any]) -> Response:
        if not body.get("query") or not body.get("filters"):
            return Response(400, {"error": "query and filters are required"})  # fake-chosen body
        problem = self._bad_filter(body["filters"])
        if problem:
            return Response(400, {"error": problem})
        threshold = float(body.get("threshold") or 0.0)
        scored = [(overlap_score(body["query"], r["memory"]), r) for r in self._filtered(body["filters"])]
        scored = [(s, r) for s, r in scored if s > threshold or (threshold == 0 and s > 0)]
        scored.sort(key=lambda pair: pair[0], reverse=True)
        top_k = int(body.get("top_k") or 10)
        return Response(200, [self._public(r, s) for s, r in scored[:top_k]])

    def _get_all_v2(self, body: dict[str, Any], query: dict[str, str]) -> Response:
        if not body.get("filters"):
            return Response(400, {"error": "filters are required"})  # fake-chosen body
        problem = self._bad_filter(body["filters"])
        if problem:
            return Response(400, {"error": problem})
        page = int(query.get("page") or body.get("page") or 1)
        size = int(query.get("page_size") or body.get("page_size") or 100)
        rows = sorted(self._filtered(body["filters"]), key=lambda r: r["created_at"], reverse=True)
        return Response(200, [self._public(r) for r in rows[(page - 1) * size : page * size]])

    def _v1_filtered(self, query: dict[str, str]) -> list[dict[str, Any]]:
        wanted = {k: query[k] for k in _ENTITIES if query.get(k)}
        return [
            r
            for r in self.memories.values()
            if all((v == "*" and r.get(k) is not None) or r.get(k) == v for k, v in wanted.items())
        ]

    def _get_all_v1(self, query: dict[str, str]) -> Response:
        if not any(query.get(k) for k in _ENTITIES):
            return Response(400, ["One of the filters: app_id, user_id, agent_id, run_id is required!"])
        if int(query.get("limit") or 0) > 200:
            return Response(400, {"error": "limit must be <= 200"})
        rows = sorted(self._v1_filtered(query), key=lambda r: r["created_at"], reverse=True)
        if "page" in query and "page_size" in query:
            page, size = int(query["page"]), int(query["page_size"])
            pages = max(1, -(-len(rows) // size))
            if page < 1 or page > pages:
                return Response(404, {"detail": "Invalid page."})
            return Response(
                200,
                {
                    "count": len(rows),
                    "next": f"{self.base_url}/v1/memories/?page={page + 1}&page_size={size}" if page < pages else None,
                    "previous": f"{self.base_url}/v1/memories/?page={page - 1}&page_size={size}" if page > 1 else None,
                    "results": [self._public(r, v2=False) for r in rows[(page - 1) * size : page * size]],
                },
            )
        return Response(200, [self._public(r, v2=False) for r in rows[: int(query.get("limit") or 100)]])

    def _delete_filtered(self, query: dict[str, str]) -> Response:
        if not any(query.get(k) for k in _ENTITIES):
            return Response(400, {"error": "At least one filter is required"})  # fake-chosen body
        for record in self._v1_filtered(query):
            del self.memories[record["id"]]
        return Response(200, {"message": "Delete in progress. This may take some time.", "event_id": str(uuid.uuid4())})


# ==================================================================================================
# A2. OpenMemory
# ==================================================================================================
_NOT_FOUND = {"detail": "Not Found"}


class FakeOpenMemory(FakeMem0):
    """OpenMemory's API (A2): REST under ``/api/v1`` and MCP streamable HTTP at ``/mcp/{app}/http/{user}``.

    No authentication. Only ``users`` exist at start (REST adds for anyone else get 404 "User not
    found"); MCP tool calls create users and apps, as the real server does.

    Switches:
      ``llm_error`` (None): a string makes REST adds answer **200** ``{"error": llm_error}``.
      ``nothing_to_add`` (False): REST adds with ``infer`` answer ``null`` and store nothing.
      ``paused_apps`` (set): adds for these apps get 403.
      ``mcp_enabled`` (True): False makes the MCP route a 404 (an OpenMemory without streamable HTTP).
      ``mcp_tool_error`` (None): a string is returned as ``search_memory``'s text (the version trap:
        "Error searching memory: …").
      ``mcp_stateful`` (False): require ``initialize`` and the ``Mcp-Session-Id`` it returns.
      ``mcp_sse`` (False): answer JSON-RPC as ``text/event-stream`` instead of JSON.
    Memory records: ``{"id","user","app","content","metadata_","created_at"(epoch float),"state"}``.
    """

    service = "openmemory"

    def __init__(self, users: tuple[str, ...] = ("alice",)) -> None:
        super().__init__()
        self.users: dict[str, str] = {u: str(uuid.uuid4()) for u in users}
        self.apps: dict[str, str] = {"openmemory": str(uuid.uuid4())}
        self.llm_error: str | None = None
        self.nothing_to_add = False
        self.paused_apps: set[str] = set()
        self.mcp_enabled = True
        self.mcp_tool_error: str | None = None
        self.mcp_stateful = False
        self.mcp_sse = False
        self.sessions: set[str] = set()
        self._clock = itertools.count()

    def seed(
        self, text: str, *, user_id: str = "alice", app: str = "claude-code", metadata: dict[str, Any] | None = None
    ) -> str:
        """Store an active memory directly (creating the user and app); returns its id."""
        with self._lock:
            self.users.setdefault(user_id, str(uuid.uuid4()))
            return self._store(text, user_id, app, metadata or {})["id"]

    def _store(self, text: str, user: str, app: str, metadata: dict[str, Any]) -> dict[str, Any]:
        self.apps.setdefault(app, str(uuid.uuid4()))
        record = {
            "id": str(uuid.uuid4()),
            "user": user,
            "app": app,
            "content": text,
            "metadata_": metadata,
            # strictly increasing, so "newest first" is well defined even within one second
            "created_at": time.time() + next(self._clock) * 1e-3,
            "state": "active",
        }
        self.memories[record["id"]] = record
        return record

    def _item(self, r: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": r["id"],
            "content": r["content"],
            "created_at": int(r["created_at"]),
            "state": r["state"],
            "app_id": self.apps[r["app"]],
            "app_name": r["app"],
            "categories": [],
            "metadata_": r["metadata_"],
        }

    def route(self, req: Request) -> Response:
        p, m = req.path, req.method
        if p.startswith("/mcp/"):
            return self._mcp(req)
        if p == "/openapi.json" and m == "GET":
            return Response(
                200,
                {
                    "openapi": "3.1.0",
                    "info": {"title": "OpenMemory API", "version": "1.0.0"},
                    "paths": {
                        "/api/v1/memories/": {},
                        "/api/v1/memories/{memory_id}": {},
                        "/api/v1/memories/filter": {},
                        "/api/v1/apps/": {},
                    },
                },
            )
        if p == "/api/v1/memories/" and m == "POST":
            return self._add(req.body or {})
        if p == "/api/v1/memories/" and m == "GET":
            return self._list(req.query)
        if p == "/api/v1/memories/" and m == "DELETE":
            body = req.body or {}
            if body.get("user_id") not in self.users:
                return Response(404, {"detail": "User not found"})
            deleted = 0
            for memory_id in body.get("memory_ids") or []:
                record = self.memories.get(str(memory_id))
                if record is None or record["state"] == "deleted":
                    return Response(404, {"detail": "Memory not found"})
                record["state"] = "deleted"
                deleted += 1
            return Response(200, {"message": f"Successfully deleted {deleted} memories"})
        found = re.fullmatch(r"/api/v1/memories/([^/]+)", p)
        if found and m == "GET":
            memory_id = found.group(1)
            if not _is_uuid(memory_id):
                return Response(
                    422,
                    {
                        "detail": [
                            {
                                "type": "uuid_parsing",
                                "loc": ["path", "memory_id"],
                                "msg": "Input should be a valid UUID",
                            }
                        ]
                    },
                )
            record = self.memories.get(memory_id)
            if record is None:
                return Response(404, {"detail": "Memory not found"})
            item = self._item(record)
            item["text"] = item.pop("content")
            return Response(200, item)
        return Response(404, _NOT_FOUND)

    def _add(self, body: dict[str, Any]) -> Response:
        user, app = body.get("user_id"), body.get("app") or "openmemory"
        if not isinstance(body.get("text"), str) or not isinstance(user, str):
            return Response(422, {"detail": [{"type": "missing", "loc": ["body", "text"], "msg": "Field required"}]})
        if user not in self.users:
            return Response(404, {"detail": "User not found"})
        if app in self.paused_apps:
            return Response(
                403, {"detail": f"App {app} is currently paused on OpenMemory. Cannot create new memories."}
            )
        if self.llm_error is not None:
            return Response(200, {"error": self.llm_error})
        if self.nothing_to_add and body.get("infer", True):
            return Response(200, None)
        record = self._store(body["text"], user, app, dict(body.get("metadata") or {}))
        now = _now_iso()
        return Response(
            200,
            {
                "id": record["id"],
                "user_id": self.users[user],
                "app_id": self.apps[app],
                "content": record["content"],
                "state": "active",
                "metadata_": record["metadata_"],
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
                "archived_at": None,
                "vector": None,
            },
        )

    def _list(self, query: dict[str, str]) -> Response:
        user = query.get("user_id")
        if not user:
            return Response(
                422, {"detail": [{"type": "missing", "loc": ["query", "user_id"], "msg": "Field required"}]}
            )
        if user not in self.users:
            return Response(404, {"detail": "User not found"})
        page, size = int(query.get("page") or 1), int(query.get("size") or 50)
        if size > 100 or size < 1 or page < 1:
            return Response(
                422,
                {
                    "detail": [
                        {
                            "type": "less_than_equal",
                            "loc": ["query", "size"],
                            "msg": "Input should be less than or equal to 100",
                        }
                    ]
                },
            )
        needle = (query.get("search_query") or "").lower()
        rows = [
            r
            for r in self.memories.values()
            if r["user"] == user and r["state"] == "active" and needle in r["content"].lower()
        ]
        rows.sort(key=lambda r: r["created_at"], reverse=query.get("sort_direction", "desc") == "desc")
        pages = max(1, -(-len(rows) // size)) if rows else 0
        return Response(
            200,
            {
                "items": [self._item(r) for r in rows[(page - 1) * size : page * size]],
                "total": len(rows),
                "page": page,
                "size": size,
                "pages": pages,
            },
        )

    # MCP --------------------------------------------------------------------------------------------
    def _mcp(self, req: Request) -> Response:
        found = re.fullmatch(r"/mcp/([^/]+)/http/([^/]+)", req.path)
        if not self.mcp_enabled or not found:
            return Response(404, _NOT_FOUND)
        if req.method != "POST":
            return Response(
                405,
                {"jsonrpc": "2.0", "id": "server-error", "error": {"code": -32000, "message": "Method Not Allowed"}},
            )
        accept = req.headers.get("accept", "")
        if "application/json" not in accept or "text/event-stream" not in accept:
            return Response(
                406,
                {
                    "jsonrpc": "2.0",
                    "id": "server-error",
                    "error": {
                        "code": -32600,
                        "message": "Not Acceptable: Client must accept both application/json and text/event-stream",
                    },
                },
            )
        app, user = found.group(1), found.group(2)
        message = req.body
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or "method" not in message:
            return Response(
                400, {"jsonrpc": "2.0", "id": "server-error", "error": {"code": -32700, "message": "Parse error"}}
            )
        headers: dict[str, str] = {}
        if self.mcp_stateful:
            if message["method"] == "initialize":
                session = uuid.uuid4().hex
                self.sessions.add(session)
                headers["mcp-session-id"] = session
            elif req.headers.get("mcp-session-id") not in self.sessions:
                return Response(
                    400,
                    {
                        "jsonrpc": "2.0",
                        "id": "server-error",
                        "error": {"code": -32600, "message": "Bad Request: Missing session ID"},
                    },
                )
        if "id" not in message:
            return Response(202, NO_BODY, headers)
        result = self._rpc(message, app, user)
        answer = {"jsonrpc": "2.0", "id": message["id"], **result}
        if self.mcp_sse:
            return Response(
                200,
                f"event: message\ndata: {json.dumps(answer)}\n\n".encode(),
                headers,
                content_type="text/event-stream",
            )
        return Response(200, answer, headers)

    def _rpc(self, message: dict[str, Any], app: str, user: str) -> dict[str, Any]:
        method, params = message["method"], message.get("params") or {}
        if method == "initialize":
            return {
                "result": {
                    "protocolVersion": params.get("protocolVersion") or "2025-03-26",
                    "capabilities": {"tools": {"listChanged": False}},
                    "serverInfo": {"name": "mem0-mcp-server", "version": "1.0.0"},
                }
            }
        if method == "tools/list":
            return {
                "result": {
                    "tools": [
                        {"name": n, "inputSchema": {"type": "object"}}
                        for n in (
                            "add_memories",
                            "search_memory",
                            "list_memories",
                            "delete_memories",
                            "delete_all_memories",
                        )
                    ]
                }
            }
        if method != "tools/call":
            return {"error": {"code": -32601, "message": f"Method not found: {method}"}}
        self.users.setdefault(user, str(uuid.uuid4()))  # MCP creates user and app, REST does not
        self.apps.setdefault(app, str(uuid.uuid4()))
        name, args = params.get("name"), params.get("arguments") or {}
        mine = [r for r in self.memories.values() if r["user"] == user and r["state"] == "active"]
        if name == "search_memory":
            if self.mcp_tool_error is not None:
                text = self.mcp_tool_error
            else:
                scored = sorted(
                    ((overlap_score(str(args.get("query", "")), r["content"]), r) for r in mine),
                    key=lambda pair: pair[0],
                    reverse=True,
                )
                text = json.dumps(
                    {
                        "results": [
                            {
                                "id": r["id"],
                                "memory": r["content"],
                                "hash": hashlib.md5(r["content"].encode()).hexdigest(),
                                "created_at": datetime.fromtimestamp(r["created_at"], timezone.utc).isoformat(),
                                "updated_at": None,
                                "score": round(s, 4),
                            }
                            for s, r in scored[:10]
                            if s > 0
                        ]
                    }
                )
        elif name == "list_memories":
            text = json.dumps([{"id": r["id"], "memory": r["content"]} for r in mine])
        elif name == "add_memories":
            record = self._store(str(args.get("text", "")), user, app, {})
            text = json.dumps({"results": [{"id": record["id"], "memory": record["content"], "event": "ADD"}]})
        else:
            return {"error": {"code": -32602, "message": f"Unknown tool: {name}"}}
        return {"result": {"content": [{"type": "text", "text": text}], "isError": False}}


# ==================================================================================================
# A3. self-hosted mem0 REST server
# ==================================================================================================
_AUTH_REQUIRED = {"detail": "Authentication required. Provide a Bearer token or X-API-Key header."}


def _payload(record: dict[str, Any]) -> dict[str, Any]:
    """A server memory as its vector store holds it: the entity ids and the metadata, flat."""
    flat = dict(record["metadata"])
    for key in ("user_id", "agent_id", "run_id", "role", "created_at"):
        if record.get(key) is not None:
            flat[key] = record[key]
    return flat


_SERVER_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "contains", "icontains")


def _server_filter(payload: dict[str, Any], filters: dict[str, Any], *, top: bool = True) -> bool | None:
    """Whether the server's search lets a memory through ``filters`` (mem0ai 2.2.1 over pgvector, as
    measured: SQL's three-valued logic, so a condition on a missing key is NULL, and NOT of NULL too).

    ``OR``, ``AND`` and ``NOT`` work at the top level only: nested in another, the real server takes them
    for a metadata key, which no memory has. An unknown operator is a ValueError (the server's 400)."""
    result: bool | None = True
    for key, value in filters.items():
        if top and key in ("OR", "AND", "NOT"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"{key} operator requires a non-empty list of conditions")
            parts = [_server_filter(payload, c, top=False) if isinstance(c, dict) else False for c in value]
            if key == "AND":
                part = _and(parts)
            else:
                part = _or(parts)
                if key == "NOT":
                    part = None if part is None else not part
        elif value == "*":
            part = key in payload
        elif isinstance(value, dict):
            conditions = []
            for op, expected in value.items():
                if op not in _SERVER_OPERATORS:
                    raise ValueError(f"Unsupported filter operator: {op}")
                conditions.append(_server_compare(payload.get(key), op, expected))
            part = _and(conditions)
        elif key not in payload:
            part = None
        elif isinstance(value, list):
            part = str(payload[key]) in [str(v) for v in value]
        else:
            part = str(payload[key]) == (json.dumps(value) if isinstance(value, bool) else str(value))
        result = _and([result, part])
    return result


def _server_compare(actual: Any, op: str, expected: Any) -> bool | None:
    if actual is None:
        return None  # SQL NULL
    text = str(actual)
    if op in ("in", "nin"):
        if not isinstance(expected, list):
            raise ValueError(f"Filter operator {op!r} requires a list value")
        inside = text in [str(v) for v in expected]
        return inside if op == "in" else not inside
    if op in ("contains", "icontains"):
        return str(expected).lower() in text.lower() if op == "icontains" else str(expected) in text
    if op in ("eq", "ne"):
        return (text == str(expected)) if op == "eq" else (text != str(expected))
    try:
        number, limit = float(text), float(expected)
    except ValueError:
        raise ValueError(f"invalid input syntax for type numeric: {text!r}") from None
    return {"gt": number > limit, "gte": number >= limit, "lt": number < limit, "lte": number <= limit}[op]


def _and(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


class FakeServer(FakeMem0):
    """The self-hosted mem0 server (A3): no ``/v1``, no trailing slashes, ``X-API-Key`` or Bearer JWT auth.

    Accepted credentials: ``X-API-Key`` in ``api_keys`` or equal to ``admin_key``, or
    ``Authorization: Bearer <t>`` with ``t`` in ``jwt_tokens``; ``auth_disabled=True`` accepts anything.
    Every response carries ``X-Request-ID``.

    Switches:
      ``provider_down`` (None): a code such as ``"provider_unavailable"`` makes adds and searches answer
        502 ``{"detail", "code", "request_id"}``.
    Memory records: ``{"id","memory","hash","metadata","created_at","updated_at","user_id","agent_id",
    "run_id","role","expiration_date"}``.
    """

    service = "server"

    def __init__(
        self,
        api_keys: tuple[str, ...] = ("m0sk_test_key",),
        *,
        admin_key: str | None = None,
        jwt_tokens: tuple[str, ...] = (),
        auth_disabled: bool = False,
    ) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.default_key = next(iter(api_keys), None)
        self.admin_key = admin_key
        self.jwt_tokens = set(jwt_tokens)
        self.auth_disabled = auth_disabled
        self.provider_down: str | None = None
        self._clock = itertools.count()

    def extra_headers(self) -> dict[str, str]:
        return {"X-Request-ID": uuid.uuid4().hex}

    def seed(
        self,
        text: str,
        *,
        user_id: str | None = "alice",
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        role: str = "user",
    ) -> str:
        with self._lock:
            return self._store(text, user_id, agent_id, run_id, metadata or {}, role, None)["id"]

    def _store(
        self, text: str, user_id: Any, agent_id: Any, run_id: Any, metadata: dict[str, Any], role: str, expiration: Any
    ) -> dict[str, Any]:
        # As the real server (mem0ai 2.2.1): metadata is kept flat in the payload, so the ``created_at``
        # it carries is the memory's own (a turn's time) and its ``role`` is the message's; neither is
        # given back inside ``metadata``.
        metadata = dict(metadata)
        metadata.pop("role", None)
        given = metadata.pop("created_at", None)
        stamp = given or datetime.fromtimestamp(time.time() + next(self._clock) * 1e-3, timezone.utc).isoformat()
        record = {
            "id": str(uuid.uuid4()),
            "memory": text,
            "hash": hashlib.md5(text.encode()).hexdigest(),
            "metadata": metadata,
            "created_at": stamp,
            "updated_at": stamp if given else None,
            "user_id": user_id,
            "agent_id": agent_id,
            "run_id": run_id,
            "role": role,
            "expiration_date": expiration,
        }
        self.memories[record["id"]] = record
        return record

    def _auth(self, req: Request) -> tuple[Response | None, bool]:
        """(a 401 to send, or None) and whether the caller is the admin."""
        if self.auth_disabled:
            return None, True
        key = req.headers.get("x-api-key")
        if key is not None:
            if key == self.admin_key:
                return None, True
            if key in self.api_keys:
                return None, False
            return Response(401, {"detail": "Invalid API key."}), False
        authorization = req.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            if authorization[7:] in self.jwt_tokens:
                return None, False
            return Response(
                401, {"detail": "Invalid or expired token."}, {"WWW-Authenticate": "Bearer"}
            ), False  # fake-chosen
        return Response(401, _AUTH_REQUIRED, {"WWW-Authenticate": "Bearer"}), False

    def _provider_failure(self) -> Response | None:
        if not self.provider_down:
            return None
        return Response(
            502,
            {
                "detail": "Provider is unreachable or returned a server error.",
                "code": self.provider_down,
                "request_id": uuid.uuid4().hex,
            },
        )

    def route(self, req: Request) -> Response:
        p, m = req.path, req.method
        if len(p) > 1 and p.endswith("/"):
            return Response(404, _NOT_FOUND)  # redirect_slashes=False
        if p == "/" and m == "GET":
            return Response(307, NO_BODY, {"Location": "/docs"})
        if p == "/openapi.json" and m == "GET":
            return Response(
                200,
                {
                    "openapi": "3.1.0",
                    "info": {"title": "Mem0 REST APIs", "version": "1.0.0"},
                    "paths": {
                        "/memories": {},
                        "/memories/{memory_id}": {},
                        "/search": {},
                        "/configure": {},
                        "/reset": {},
                    },
                },
            )
        denied, admin = self._auth(req)
        if denied is not None:
            return denied
        if p == "/memories" and m == "POST":
            return self._add(req.body or {})
        if p == "/memories" and m == "GET":
            return self._list(req.query, admin)
        if p == "/memories" and m == "DELETE":
            if not admin:
                return Response(403, {"detail": "Admin access required."})  # fake-chosen body
            wanted = {k: req.query[k] for k in ("user_id", "agent_id", "run_id") if req.query.get(k)}
            if not wanted:
                return Response(400, {"detail": "At least one identifier (user_id, agent_id, run_id) is required."})
            for record in [r for r in self.memories.values() if all(r.get(k) == v for k, v in wanted.items())]:
                del self.memories[record["id"]]
            return Response(200, {"message": "All relevant memories deleted"})
        if p == "/search" and m == "POST":
            return self._search(req.body or {})
        found = re.fullmatch(r"/memories/([^/]+)", p)
        if found:
            memory_id = found.group(1)
            record = self.memories.get(memory_id)
            if m == "GET":
                return Response(200, None if record is None else {**record, "score": None})
            if m == "DELETE":
                if record is None:
                    return Response(404, {"detail": f"Memory with id {memory_id} not found"})
                del self.memories[memory_id]
                return Response(200, {"message": "Memory deleted successfully"})
            if m == "PUT":
                if record is None:
                    return Response(404, {"detail": f"Memory with id {memory_id} not found"})
                body = req.body or {}
                record["memory"] = body.get("text", record["memory"])
                if isinstance(body.get("metadata"), dict):
                    record["metadata"] = body["metadata"]
                return Response(200, {"message": "Memory updated successfully!"})
        if re.fullmatch(r"/memories/([^/]+)/history", p) and m == "GET":
            return Response(200, [])
        return Response(404, _NOT_FOUND)

    def _add(self, body: dict[str, Any]) -> Response:
        messages = body.get("messages")
        if not isinstance(messages, list):
            return Response(
                422,
                {"detail": [{"type": "missing", "loc": ["body", "messages"], "msg": "Field required", "input": body}]},
            )
        if not any(body.get(k) for k in ("user_id", "agent_id", "run_id")):
            return Response(400, {"detail": "At least one identifier (user_id, agent_id, run_id) is required."})
        failure = self._provider_failure()
        if failure is not None:
            return failure
        results = []
        for message in messages:
            if not isinstance(message, dict) or message.get("role") == "system":
                continue
            record = self._store(
                str(message.get("content", "")),
                body.get("user_id"),
                body.get("agent_id"),
                body.get("run_id"),
                dict(body.get("metadata") or {}),
                str(message.get("role")),
                body.get("expiration_date"),
            )
            results.append(
                {
                    "id": record["id"],
                    "memory": record["memory"],
                    "event": "ADD",
                    "actor_id": None,
                    "role": record["role"],
                }
            )
        return Response(200, {"results": results})

    def _list(self, query: dict[str, str], admin: bool) -> Response:
        wanted = {k: query[k] for k in ("user_id", "agent_id", "run_id") if query.get(k)}
        if not wanted and not admin:
            return Response(403, {"detail": "Admin access required."})  # fake-chosen body
        top_k = int(query.get("top_k") or 100)
        if not 0 <= top_k <= 1000:
            return Response(
                422,
                {
                    "detail": [
                        {
                            "type": "less_than_equal",
                            "loc": ["query", "top_k"],
                            "msg": "Input should be less than or equal to 1000",
                        }
                    ]
                },
            )
        rows = [r for r in self.memories.values() if all(r.get(k) == v for k, v in wanted.items())]
        return Response(200, {"results": rows[:top_k]})

    def _search(self, body: dict[str, Any]) -> Response:
        if not isinstance(body.get("query"), str):
            return Response(422, {"detail": [{"type": "missing", "loc": ["body", "query"], "msg": "Field required"}]})
        filters = dict(body.get("filters") or {})
        for key in ("user_id", "agent_id", "run_id"):  # deprecated top-level ids are merged in
            if body.get(key):
                filters[key] = body[key]
        if not any(filters.get(k) for k in ("user_id", "agent_id", "run_id")):
            return Response(
                400,
                {
                    "detail": "filters must contain at least one of: user_id, agent_id, run_id. "
                    "Example: filters={'user_id': 'u1'}"
                },
            )
        failure = self._provider_failure()
        if failure is not None:
            return failure

        try:
            rows = [r for r in self.memories.values() if _server_filter(_payload(r), filters) is True]
        except ValueError as exc:
            return Response(400, {"detail": str(exc)})
        threshold = float(body.get("threshold") or 0.0)
        scored = sorted(
            ((overlap_score(body["query"], r["memory"]), r) for r in rows), key=lambda x: x[0], reverse=True
        )
        top_k = int(body.get("top_k") or 10)
        return Response(
            200,
            {
                "results": [
                    {**r, "score": round(s, 4)} for s, r in scored if s > threshold or (threshold == 0 and s > 0)
                ][:top_k]
            },
        )
