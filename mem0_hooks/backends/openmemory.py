"""A local OpenMemory server (``openmemory/api``, default ``http://localhost:8765``). It has no authentication.

Capture goes through the REST API: ``POST /api/v1/memories/`` with ``{"user_id", "text", "metadata",
"infer", "app"}`` (``app`` = mem0.app). Its answers, all of which this module handles:

* the SQL row of the first memory added: stored;
* ``null``: mem0 decided there was nothing new to add: also a success;
* **200** ``{"error": "…"}``: mem0's LLM or vector store failed: ``BackendUnavailable`` (retried later);
* 404 ``{"detail": "User not found"}``: REST never creates users (only the server's ``USER`` at start-up,
  and MCP calls do), so the user is created through the MCP endpoint (``create_user``: one
  ``list_memories`` call, verified against the real server) and the add sent again; only when that
  fails too is it a ``BackendRejected`` saying how to create the user;
* 403: the app is paused in OpenMemory: ``BackendRejected``.

Recall. The REST API has no semantic search (``search_query`` is an SQL ``ILIKE``), so ``search`` asks
the MCP streamable-HTTP endpoint ``POST /mcp/{app}/http/{user_id}`` to run the ``search_memory`` tool
(JSON-RPC 2.0). The server is stateless, so ``tools/call`` is sent directly; if it answers as a stateful
server would (a 4xx or a JSON-RPC error), the ``initialize`` / ``notifications/initialized`` handshake is
done and the call repeated with the ``Mcp-Session-Id`` it returned. Answers may be JSON or an SSE
stream. The tool reports failures as text ("Error searching memory: …", e.g. with mem0ai ≥ 2.0 on the
server), not as MCP errors; any MCP failure falls back to keyword search over REST
(``GET /api/v1/memories/?search_query=<word>`` for the prompt's longest content words, scored by word
overlap) and parks MCP for a while (breaker ``openmemory-mcp``) so later prompts go straight to REST.
MCP results carry no metadata, so each hit's project is read from ``GET /api/v1/memories/{id}`` while
the deadline allows; a hit whose project could not be read is treated as user-wide. MCP gives at most
10 hits, before the project filter.

Identity: OpenMemory stores only ``user_id`` and ``app``; ``agent_id``, ``run_id`` (the session), the
project and ``mem0_hooks_id`` go in ``metadata``, which OpenMemory keeps in SQL (``metadata_``), not in
the vector store. ``already_stored`` pages the REST listing for ``metadata_.mem0_hooks_id``.
OpenMemory has no expiration, so retention (``auto_delete_after_days``) is applied from here: the flusher
calls ``delete_older_than`` (hourly at most), which pages the user's memories oldest first and deletes
the ones mem0-hooks wrote whose turn is older than the cutoff.

Health: ``GET /openapi.json`` (there is no ``/health`` route), then a listing for the user, then one
MCP search to report whether semantic recall works.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from mem0_hooks import __version__, breaker
from mem0_hooks.backends import _http
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.errors import BackendError, BackendRejected, BackendUnavailable

DEFAULT_URL = "http://localhost:8765"
MEMORIES = "/api/v1/memories/"
PAGE_SIZE = 100
MAX_PAGES = 500
MAX_QUERY_CHARS = 4000
MCP_PROTOCOL = "2025-03-26"
MCP_SHARE = 0.7  # of the recall budget MCP may use, leaving the rest for the REST fallback
MCP_PARK_SECONDS = 300.0
REST_TERMS = 4
UNKNOWN = "unknown"  # the scope of a hit whose project this machine does not know (yet)
DIRECTORY_FILE = "openmemory-directory.sqlite3"
DIRECTORY_FRESH_SECONDS = 600.0
DIRECTORY_OVERLAP_SECONDS = 300.0  # a refresh reads back this far before the last one (clocks, slow adds)


class OpenMemoryBackend(_http.HttpBackend):
    """OpenMemory store: ``OpenMemoryBackend(config, for_recall=False)``."""

    name = "openmemory"
    service = "OpenMemory"
    default_url = DEFAULT_URL

    def __init__(self, config: dict[str, Any], *, for_recall: bool = False) -> None:
        super().__init__(config, for_recall=for_recall)
        self.app = str((config.get("mem0") or {}).get("app") or "claude-code")
        self.mcp_path = f"/mcp/{quote(self.app, safe='')}/http/{quote(self.user_id, safe='')}"
        self.mcp_breaker = f"{self.name}-mcp"
        self._rpc_ids = itertools.count(1)
        url = _http.public_url(self.base_url)
        self.user_hint = (
            f"OpenMemory at {url} has no user {self.user_id!r}, and creating it through its MCP endpoint failed; "
            "OpenMemory creates only the user named by its USER environment variable at start-up, and a user "
            "on the first MCP call as that user. Set user_id in config.yaml to an existing user, or create "
            f"this one: curl -X POST {url}{self.mcp_path} -H 'Content-Type: application/json' "
            "-H 'Accept: application/json, text/event-stream' -d "
            """'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_memories","arguments":{}}}'"""
        )
        self._created_user = False
        self._directory: Directory | None = None
        from mem0_hooks.config import keeps_local_index

        self.local_index = bool(config.get("mem0")) and keeps_local_index(config)
        self.api = _http.Api(
            self.service,
            self.base_url,
            timeout=self.recall_timeout if for_recall else self.write_timeout,
            hints={
                "transport": f"is the OpenMemory server running at {url}? (`uvicorn main:app --port 8765`)",
                403: f"the app {self.app!r} may be paused in OpenMemory: resume it, or set mem0.app",
                404: f"check mem0.base_url ({url}): is it an OpenMemory server?",
            },
        )

    # -- capture -----------------------------------------------------------------------------------
    def _add_one(self, item: MemoryItem) -> None:
        """Send one item (``HttpBackend.add`` calls this per item, under the breaker)."""
        metadata = _http.item_metadata(
            item, user_id=self.user_id, extra={"agent_id": self.agent_id, "run_id": item.session_id}
        )
        body = {"user_id": self.user_id, "text": item.text, "metadata": metadata, "infer": self.infer, "app": self.app}
        answer = self._with_user(lambda: self.api.call_json("POST", MEMORIES, json=body, hints={404: self.user_hint}))
        if answer is not None and not (isinstance(answer, dict) and "id" in answer):
            raise BackendUnavailable(
                f"{self.service} answered POST {MEMORIES} with an unexpected body",
                server_message=_http.server_message(answer),
                hint="check mem0.base_url: is it an OpenMemory server?",
            )
        if isinstance(answer, dict):
            self.directory.record(self.owner, [(str(answer["id"]), metadata)])

    # -- the directory: which project each of the user's memories belongs to ------------------------
    @property
    def owner(self) -> str:
        return f"{_http.public_url(self.base_url)} {self.user_id}"

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            self._directory = Directory()
        return self._directory

    def refresh_directory(self, *, force: bool = False) -> int:
        """Read the listing, newest first, into the directory, back to a little before the last reading
        (the whole listing the first time); only when a hook asked or it is older than
        ``DIRECTORY_FRESH_SECONDS`` (or ``force``). Returns how many memories were new to it. The
        flusher's work, never a hook's."""
        directory = self.directory
        if not force and not directory.due(self.owner):
            return 0

        since = directory.refreshed_at(self.owner) - DIRECTORY_OVERLAP_SECONDS

        def run() -> int:
            started = time.time()
            new = 0
            for rows in self._raw_pages():
                entries = [
                    (str(r["id"]), r.get("metadata_") or {}) for r in rows if isinstance(r, dict) and r.get("id")
                ]
                new += directory.record(self.owner, entries)
                stored = _http.parse_time(rows[-1].get("created_at")) if rows and isinstance(rows[-1], dict) else None
                if stored is not None and stored.timestamp() < since:
                    break  # newest first: the rest was read the last time
            directory.refreshed(self.owner, started)
            return new

        return self._guarded(run, check_breaker=False)

    # -- recall ------------------------------------------------------------------------------------
    def search(self, query: str, *, project: str, limit: int, deadline: float | None = None) -> list[Memory]:
        """This project's and the user-wide memories for ``query``, best first; a semantic hit whose project
        this machine does not know yet is given with ``scope`` ``"unknown"`` (see the module docstring)."""
        names = _http.project_names(project)
        if not query.strip() or limit <= 0:
            return []
        deadline = self._deadline(deadline)
        query = query[:MAX_QUERY_CHARS]

        def run() -> list[Memory]:
            hits = self._semantic(query, deadline)
            if hits is None:
                hits = self._keyword(query, limit, deadline)
            found = [m for m in hits if m.scope == UNKNOWN or _http.in_scope(m, names)]
            found.sort(key=lambda m: m.score or 0.0, reverse=True)
            return found[:limit]

        return self._guarded(run, deadline=deadline)

    def _semantic(self, query: str, deadline: float | None) -> list[Memory] | None:
        """MCP ``search_memory`` hits with their metadata; None when MCP failed (use REST instead).

        With the local index beside this store (``mem0.local_index``, the hybrid store) the REST keyword
        fallback finds nothing the local index's own ranking by words does not: MCP gets the whole
        deadline, and its failure is the search's (recall then has the local half)."""
        fallback = not self.local_index
        if fallback and breaker.is_open(self.mcp_breaker):
            return None
        mcp_deadline = deadline
        if deadline is not None and fallback:
            mcp_deadline = time.monotonic() + MCP_SHARE * max(0.0, deadline - time.monotonic())
        try:
            hits = self.mcp_search(query, deadline=mcp_deadline)
        except BackendError as exc:
            if getattr(exc, "connect_failed", False) or not fallback:
                raise  # the whole server is unreachable (REST would fail the same way), or no fallback
            breaker.record_failure(self.mcp_breaker, str(exc), MCP_PARK_SECONDS if self.cooldown else 0.0)
            return None
        breaker.record_success(self.mcp_breaker)
        return self._with_metadata(hits)

    def mcp_search(self, query: str, *, deadline: float | None = None) -> list[Memory]:
        """Semantic search through the MCP tool ``search_memory`` (no metadata on the hits)."""
        text = self._mcp_tool("search_memory", {"query": query}, deadline)
        try:
            data = json.loads(text)
        except ValueError:
            raise BackendUnavailable(
                f"{self.service}'s MCP tool search_memory failed",
                server_message=_http.shorten(text) if text else None,
                hint="semantic search needs mem0ai<=1.0.11 and mcp<2 on the server; recall uses keyword search",
            ) from None
        rows = data.get("results") if isinstance(data, dict) else data
        hits = []
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("id") is not None:
                hits.append(
                    _http.memory_from(
                        id=row["id"],
                        text=row.get("memory"),
                        metadata={},
                        created_at=row.get("created_at"),
                        score=row.get("score"),
                    )
                )
        return hits

    def _with_metadata(self, hits: list[Memory]) -> list[Memory]:
        """Each hit with the metadata this machine knows for it (``Directory``: the listing, read by the
        flusher, and what this machine stored); a hit it does not know is given with ``scope``
        ``"unknown"`` (the caller matches it to the local index by its text, or leaves it out), and the
        flusher is asked to read the listing again. No request per hit: that cost ~90 ms each."""
        if not hits:
            return hits
        known = self.directory.lookup(self.owner, [h.id for h in hits])
        out = []
        unknown = False
        for hit in hits:
            row = known.get(hit.id)
            if row is None:
                hit.scope = UNKNOWN
                unknown = True
                out.append(hit)
                continue
            memory = _http.memory_from(
                id=hit.id, text=hit.text, metadata=row, created_at=hit.created_at, score=hit.score
            )
            out.append(memory)
        if unknown:
            self.directory.want(self.owner)
        return out

    def _keyword(self, query: str, limit: int, deadline: float | None) -> list[Memory]:
        """REST fallback: SQL ILIKE per content word, scored by how many of the prompt's words a memory has."""
        from mem0_hooks.ranking.query import query_words  # only on the fallback path

        terms = query_words(query)
        if not terms:
            return []
        found: dict[str, Memory] = {}
        for term in sorted(terms, key=len, reverse=True)[:REST_TERMS]:
            try:
                page = self.api.call_json(
                    "GET",
                    MEMORIES,
                    params={
                        "user_id": self.user_id,
                        "search_query": term,
                        "page": 1,
                        "size": min(PAGE_SIZE, limit * 3),
                        "sort_column": "created_at",
                        "sort_direction": "desc",
                    },
                    deadline=deadline,
                    hints={404: self.user_hint},
                )
            except BackendUnavailable:
                if found:
                    break  # out of time with something in hand: use it
                raise
            for row in (page or {}).get("items") or []:
                memory = self._memory(row)
                if memory is not None:
                    found.setdefault(memory.id, memory)
        for memory in found.values():
            words = set(re.findall(r"[^\W_]+", memory.text.lower()))
            memory.score = sum(1 for t in terms if t in words or t in memory.text.lower()) / len(terms)
        return list(found.values())

    # -- MCP (JSON-RPC 2.0 over streamable HTTP) ---------------------------------------------------
    def _mcp_tool(self, tool: str, arguments: dict[str, Any], deadline: float | None) -> str:
        """Call an MCP tool and return its text; an MCP-level error is a ``BackendError``."""
        request = {
            "jsonrpc": "2.0",
            "id": next(self._rpc_ids),
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        try:
            result = self._mcp_send(request, deadline)
        except (BackendRejected, _McpError):
            session, version = self._mcp_initialize(deadline)  # a stateful server wants the handshake
            request["id"] = next(self._rpc_ids)
            result = self._mcp_send(request, deadline, session=session, version=version)
        content = result.get("content") if isinstance(result, dict) else None
        text = "\n".join(
            str(part.get("text", "")) for part in content or [] if isinstance(part, dict) and part.get("type") == "text"
        )
        if isinstance(result, dict) and result.get("isError"):
            raise BackendUnavailable(
                f"{self.service}'s MCP tool {tool} failed", server_message=_http.shorten(text) or None
            )
        return text

    def _mcp_initialize(self, deadline: float | None) -> tuple[str | None, str | None]:
        result = self._mcp_send(
            {
                "jsonrpc": "2.0",
                "id": next(self._rpc_ids),
                "method": "initialize",
                "params": {
                    "protocolVersion": MCP_PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "mem0-hooks", "version": __version__},
                },
            },
            deadline,
            keep_headers=True,
        )
        session = result.pop("_session", None)
        version = result.get("protocolVersion") if isinstance(result.get("protocolVersion"), str) else None
        self._mcp_send(
            {"jsonrpc": "2.0", "method": "notifications/initialized"}, deadline, session=session, version=version
        )
        return session, version

    def _mcp_send(
        self,
        message: dict[str, Any],
        deadline: float | None,
        *,
        session: str | None = None,
        version: str | None = None,
        keep_headers: bool = False,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if session:
            headers["Mcp-Session-Id"] = session
        if version:
            headers["MCP-Protocol-Version"] = version
        reply = self.api.call(
            "POST",
            self.mcp_path,
            json=message,
            headers=headers,
            deadline=deadline,
            hints={404: f"no MCP endpoint at {self.mcp_path}: this OpenMemory may predate streamable HTTP"},
        )
        if "id" not in message:
            return {}  # a notification: 202, nothing to read
        answer = _rpc_answer(reply, message["id"])
        if answer is None:
            raise BackendUnavailable(f"{self.service}'s MCP endpoint sent no answer to {message['method']}")
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {"message": str(answer["error"])}
            raise _McpError(
                f"{self.service}'s MCP endpoint refused {message['method']}",
                server_message=str(error.get("message") or error)[:300],
            )
        result = answer.get("result")
        result = dict(result) if isinstance(result, dict) else {}
        if keep_headers:
            result["_session"] = reply.headers.get("mcp-session-id")
        return result

    def create_user(self) -> None:
        """Create ``user_id`` (and the app) in OpenMemory: MCP tool calls create both, REST never does."""
        self._guarded(lambda: self._mcp_tool("list_memories", {}, None), check_breaker=False)

    def _with_user(self, call: Any) -> Any:
        """``call()``; when OpenMemory answers that the user does not exist, create the user through MCP
        (once per store object) and call again. A user that still cannot be made is the original 404."""
        try:
            return call()
        except BackendRejected as exc:
            if self._created_user or not _user_missing(exc):
                raise
            self._created_user = True
            try:
                self._mcp_tool("list_memories", {}, None)
            except BackendError:
                raise exc from None
            from mem0_hooks.log import log

            log(f"created the user {self.user_id!r} (and the app {self.app!r}) on OpenMemory through its MCP endpoint")
            return call()

    # -- listing and forgetting --------------------------------------------------------------------
    def _memory(self, row: dict[str, Any]) -> Memory | None:
        if not isinstance(row, dict) or row.get("id") is None:
            return None
        return _http.memory_from(
            id=row["id"],
            text=row.get("content") if row.get("content") is not None else row.get("text"),
            metadata=row.get("metadata_"),
            created_at=row.get("created_at"),
        )

    def _pages(self, deadline: float | None = None, size: int = PAGE_SIZE) -> Iterator[Memory]:
        for rows in self._raw_pages(deadline, size):
            for row in rows:
                memory = self._memory(row)
                if memory is not None:
                    yield memory

    def _raw_pages(self, deadline: float | None = None, size: int = PAGE_SIZE) -> Iterator[list[Any]]:
        """The user's memories as OpenMemory lists them (rows), a page at a time, newest stored first."""
        for page in range(1, MAX_PAGES + 1):
            answer = self.api.call_json(
                "GET",
                MEMORIES,
                params={
                    "user_id": self.user_id,
                    "page": page,
                    "size": size,
                    "sort_column": "created_at",
                    "sort_direction": "desc",
                },
                deadline=deadline,
                hints={404: self.user_hint},
            )
            items = (answer or {}).get("items") or []
            if not isinstance(items, list):
                raise BackendUnavailable(f"{self.service} answered GET {MEMORIES} with an unexpected body")
            if items:
                yield items
            if not items or page >= int((answer or {}).get("pages") or page):
                return

    def _scan(self, session_id: str | None) -> Iterator[Memory]:
        for memory in self._pages():
            if not session_id or memory.session_id == session_id:
                yield memory

    def recent(self, *, project: str, limit: int) -> list[Memory]:
        names = _http.project_names(project)
        deadline = self._deadline(None)

        def run() -> list[Memory]:
            found: list[Memory] = []
            for memory in self._pages(deadline):  # sorted newest first by the server: stop when full
                if _http.in_scope(memory, names):
                    found.append(memory)
                    if len(found) >= limit:
                        break
            return found

        return _http.newest_first(self._guarded(run, deadline=deadline))[:limit]

    def get(self, memory_id: str) -> Memory | None:
        """``GET /api/v1/memories/{id}`` (the text as ``text``, the metadata as ``metadata_``); None for an
        id it does not have, or one that is not a UUID (OpenMemory's ids are)."""
        if not _http.is_uuid(memory_id):
            return None

        def run() -> Memory | None:
            try:
                row = self.api.call_json("GET", f"{MEMORIES}{quote(memory_id, safe='')}")
            except BackendRejected as exc:
                if exc.status in (404, 422):
                    return None
                raise
            return self._memory(row) if isinstance(row, dict) else None

        return self._guarded(run)

    def delete(self, memory_id: str) -> bool:
        try:
            uuid.UUID(memory_id)
        except ValueError:
            return False  # OpenMemory ids are UUIDs: this one cannot exist
        return self._guarded(lambda: self._delete_ids([memory_id])) > 0

    def _delete_ids(self, ids: list[str]) -> int:
        try:
            answer = self.api.call_json(
                "DELETE", MEMORIES, json={"memory_ids": ids, "user_id": self.user_id}, hints={404: self.user_hint}
            )
        except BackendRejected as exc:
            if exc.status == 404 and "user" not in (exc.server_message or "").lower():
                return 0  # "Memory not found"
            raise
        match = re.search(r"(\d+)", str((answer or {}).get("message", "")))
        return int(match.group(1)) if match else len(ids)

    def delete_older_than(self, iso_cutoff: str) -> int:
        """Retention: forget the memories mem0-hooks wrote whose turn happened before ``iso_cutoff``."""
        cutoff = _http.parse_time(iso_cutoff)

        def run() -> int:
            doomed = []
            for page in range(1, MAX_PAGES + 1):
                answer = self.api.call_json(
                    "GET",
                    MEMORIES,
                    params={
                        "user_id": self.user_id,
                        "page": page,
                        "size": PAGE_SIZE,
                        "sort_column": "created_at",
                        "sort_direction": "asc",
                    },
                    hints={404: self.user_hint},
                )
                rows = (answer or {}).get("items") or []
                for row in rows:
                    memory = self._memory(row)
                    when = _http.parse_time(memory.created_at) if memory is not None else None
                    if memory is not None and self._ours(memory) and when is not None and cutoff and when < cutoff:
                        doomed.append(memory.id)
                stored = _http.parse_time(rows[-1].get("created_at")) if rows else None
                if (
                    not rows
                    or (stored and cutoff and stored >= cutoff)
                    or page >= int((answer or {}).get("pages") or page)
                ):
                    break  # oldest first: the rest was stored after the cutoff (a turn is stored after it happened)
            return sum(self._delete_ids(doomed[i : i + 100]) for i in range(0, len(doomed), 100))

        return self._guarded(run)

    def delete_all(self, *, project: str | None = None) -> int:
        names = _http.project_names(project)

        def run() -> int:
            doomed = [m.id for m in self._pages() if self._ours(m) and _http.of_project(m, names)]
            return sum(self._delete_ids(doomed[i : i + 100]) for i in range(0, len(doomed), 100))

        return self._guarded(run)

    def _total(self) -> int | None:
        answer = self._with_user(
            lambda: self.api.call_json(
                "GET", MEMORIES, params={"user_id": self.user_id, "page": 1, "size": 1}, hints={404: self.user_hint}
            )
        )
        total = (answer or {}).get("total") if isinstance(answer, dict) else None
        return int(total) if isinstance(total, int) else None

    def count(self) -> int | None:
        return self._guarded(self._total)

    def health(self) -> str:
        url = _http.public_url(self.base_url)

        def run() -> int | None:
            spec = self.api.call_json("GET", "/openapi.json")
            paths = spec.get("paths") if isinstance(spec, dict) else None
            if not isinstance(paths, dict) or MEMORIES not in paths:
                raise BackendRejected(
                    f"{url} answers, but it is not an OpenMemory API server (no {MEMORIES} in /openapi.json)",
                    hint="check mem0.base_url (OpenMemory's API listens on port 8765 by default)",
                )
            return self._total()

        total = self._guarded(run, check_breaker=False)
        try:
            self.mcp_search("mem0-hooks health check", deadline=time.monotonic() + max(self.recall_timeout, 5.0))
            semantic = "semantic recall via MCP works"
        except BackendError as exc:
            semantic = f"semantic recall via MCP unavailable, keyword search is used instead ({exc})"
        count = "an unknown number of" if total is None else str(total)
        created = " (just created through its MCP endpoint)" if self._created_user else ""
        return (
            f"{self.service} at {url}: user {self.user_id!r}{created} has {count} memories, app {self.app!r}; "
            f"{semantic}"
        )

    # Last in the class on purpose: after it, ``list`` in an annotation would name this method.
    def list(self, *, project: str | None = None, limit: int | None = None) -> list[Memory]:
        names = _http.project_names(project)

        def run() -> list[Memory]:
            return [m for m in self._pages() if _http.of_project(m, names)]

        memories = _http.newest_first(self._guarded(run))
        return memories if limit is None else memories[:limit]


class Directory:
    """Which project (and session, role, turn time) each OpenMemory memory of a user belongs to, as far
    as this machine knows: OpenMemory's semantic search gives text and score alone, and reading each
    hit's metadata costs a request. Filled by the flusher from what it stores and from the listing
    (``refresh_directory``); read by hooks. SQLite in the data dir's state folder, ids and metadata only
    (no text). ``owner`` keeps servers and users apart."""

    COLUMNS = ("project", "scope", "role", "mem0_hooks_role", "created_at", "run_id", "seq", "mem0_hooks_id")

    def __init__(self, path: str | None = None) -> None:
        from mem0_hooks import paths

        self.path = path or paths.state_file(DIRECTORY_FILE)
        self._db: Any = None

    @property
    def db(self) -> Any:
        if self._db is None:
            import sqlite3

            from mem0_hooks import paths

            paths.ensure_private_dir(os.path.dirname(self.path))
            if not os.path.exists(self.path):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            db = sqlite3.connect(self.path, timeout=2.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS memories (owner TEXT NOT NULL, id TEXT NOT NULL, metadata TEXT NOT NULL,"
                " PRIMARY KEY (owner, id)) WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, refreshed_at REAL NOT NULL DEFAULT 0,"
                " wanted_at REAL NOT NULL DEFAULT 0)"
            )
            self._db = db
        return self._db

    def lookup(self, owner: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """{id: metadata} of those of ``ids`` it knows; {} when the file cannot be read."""
        import sqlite3

        try:
            marks = ",".join("?" * len(ids))
            rows = self.db.execute(
                f"SELECT id, metadata FROM memories WHERE owner = ? AND id IN ({marks})", [owner, *ids]
            ).fetchall()
        except (sqlite3.Error, OSError):
            return {}
        return {i: json.loads(md) for i, md in rows}

    def record(self, owner: str, entries: list[tuple[str, dict[str, Any]]]) -> int:
        """Remember each (id, metadata); returns how many ids were new."""
        if not entries:
            return 0
        db = self.db
        known = set(self.lookup(owner, [i for i, _ in entries]))
        with_md = [
            (owner, i, json.dumps({k: md[k] for k in self.COLUMNS if md.get(k) not in (None, "")}))
            for i, md in entries
            if isinstance(md, dict)
        ]
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO memories VALUES (?, ?, ?)", with_md)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len({i for _, i, _ in with_md} - known)

    def want(self, owner: str) -> None:
        """A hook met a hit it could not place: the next flusher reads the listing again."""
        import sqlite3

        try:
            self.db.execute(
                "INSERT INTO owners (owner, wanted_at) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET wanted_at ="
                " excluded.wanted_at",
                (owner, time.time()),
            )
        except (sqlite3.Error, OSError):
            pass

    def due(self, owner: str) -> bool:
        """Whether the listing should be read again: asked for since the last reading, or that is old."""
        row = self.db.execute("SELECT refreshed_at, wanted_at FROM owners WHERE owner = ?", (owner,)).fetchone()
        if row is None:
            return True
        refreshed, wanted = row
        return wanted > refreshed or time.time() - refreshed > DIRECTORY_FRESH_SECONDS

    def refreshed_at(self, owner: str) -> float:
        row = self.db.execute("SELECT refreshed_at FROM owners WHERE owner = ?", (owner,)).fetchone()
        return float(row[0]) if row else 0.0

    def refreshed(self, owner: str, at: float) -> None:
        self.db.execute(
            "INSERT INTO owners (owner, refreshed_at) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET refreshed_at ="
            " excluded.refreshed_at",
            (owner, at),
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _user_missing(exc: BackendRejected) -> bool:
    return exc.status == 404 and "user" in (exc.server_message or "").lower()


class _McpError(BackendUnavailable):
    """A JSON-RPC error answer from the MCP endpoint."""


def _rpc_answer(reply: _http.Reply, rpc_id: Any) -> dict[str, Any] | None:
    """The JSON-RPC message answering ``rpc_id`` in a JSON or SSE (``text/event-stream``) reply."""
    messages: list[Any] = []
    if reply.content_type == "text/event-stream":
        data: list[str] = []
        for line in reply.text().splitlines() + [""]:
            if line.startswith("data:"):
                data.append(line[5:].lstrip())
            elif not line.strip() and data:
                try:
                    messages.append(json.loads("\n".join(data)))
                except ValueError:
                    pass
                data = []
    else:
        try:
            body = reply.json()
        except ValueError:
            return None
        messages = body if isinstance(body, list) else [body]
    for message in messages:
        if isinstance(message, dict) and message.get("id") == rpc_id and ("result" in message or "error" in message):
            return message
    for message in messages:  # a server-side error without our id ("server-error")
        if isinstance(message, dict) and "error" in message:
            return message
    return None
