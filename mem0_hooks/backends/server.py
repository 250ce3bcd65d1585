"""The self-hosted mem0 REST server (``server/main.py``; docker compose publishes it on ``http://localhost:8888``).

Routes have no ``/v1`` prefix and no trailing slash (``/memories/`` is a 404 there):

    add        POST   /memories           ``messages``, ``user_id``, ``agent_id``, ``run_id``, ``metadata``,
                                          ``infer``, ``expiration_date``; answers ``{"results": [...]}``
    search     POST   /search             ``query``, ``filters: {"user_id": …}``, ``top_k``
    list       GET    /memories?user_id=&top_k=1000     (listing without ids is admin-only and unreliable)
    delete     DELETE /memories/{id}      404 -> False
    health     GET    /openapi.json, then an authenticated test search (there is no health route)

Auth: ``X-API-Key: <key>`` (a per-user ``m0sk_…`` key or the server's ADMIN_API_KEY); a key that looks
like a JWT (three dot-separated base64url parts whose first decodes to a JSON header) is sent as
``Authorization: Bearer <key>`` instead. Without a key nothing is sent (a server with
``AUTH_DISABLED=true``). ``Authorization: Token`` (Platform style) is refused by this server.

Upstream failures (LLM, embedder, vector store) come back as 502 with a ``code`` such as
``provider_unavailable``: ``BackendUnavailable`` with the code in the message.

Identity: ``user_id``, ``agent_id``, ``run_id`` (the session) are first-class here; the project, role,
turn time and ``mem0_hooks_id`` go in ``metadata`` (the server keeps them flat in its payload, and gives
back ``role`` and the turn time as fields of the memory). A search asks the server to restrict it to the
project (``_filters``: metadata filters, measured on the real server; not in the spec); a server whose
vector store refuses them (400/422) is searched unfiltered, over-fetched and filtered here instead.
``already_stored`` lists ``GET /memories?user_id=&run_id=<session>`` (or all of the user's) and
looks for ``metadata.mem0_hooks_id``; the server's adds are synchronous, so a 200 means stored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from mem0_hooks import breaker
from mem0_hooks import config as config_module
from mem0_hooks.backends import _http
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.errors import BackendRejected, BackendUnavailable

DEFAULT_URL = "http://localhost:8888"
FILTER_SPARES = 5
FILTERS_PARK_SECONDS = 86400.0
LIST_LIMIT = 1000  # the server's maximum top_k for a listing
MAX_QUERY_CHARS = 4000


def looks_like_jwt(key: str) -> bool:
    """Three dot-separated base64url parts, the first a JSON object with ``alg`` (a JWT header)."""
    parts = key.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(header, dict) and "alg" in header


def auth_headers(key: str | None) -> dict[str, str]:
    """The header this server expects for ``key`` (none without a key)."""
    if not key:
        return {}
    if looks_like_jwt(key):
        return {"Authorization": f"Bearer {key}"}
    return {"X-API-Key": key}


class ServerBackend(_http.HttpBackend):
    """Self-hosted mem0 server store: ``ServerBackend(config, for_recall=False)``."""

    name = "server"
    service = "mem0 server"
    default_url = DEFAULT_URL

    def __init__(self, config: dict[str, Any], *, for_recall: bool = False) -> None:
        super().__init__(config, for_recall=for_recall)
        self.filters_breaker = f"{self.name}-filters"
        key = config_module.api_key(config)
        self.auth_scheme = "none" if not key else ("Bearer JWT" if looks_like_jwt(key) else "X-API-Key")
        url = _http.public_url(self.base_url)
        if not key:
            auth_hint = (
                "this server requires authentication: `mem0-hooks config set-key` (or MEM0_API_KEY) with an "
                "API key created with POST /api-keys (m0sk_…) or the server's ADMIN_API_KEY"
            )
        elif self.auth_scheme == "Bearer JWT":
            auth_hint = (
                "the JWT was refused (access tokens last 30 minutes): set MEM0_API_KEY to a long-lived "
                "API key from POST /api-keys (m0sk_…) instead"
            )
        else:
            auth_hint = "the server refused the key sent as X-API-Key: check MEM0_API_KEY (or the api_key file)"
        self.api = _http.Api(
            self.service,
            self.base_url,
            headers=auth_headers(key),
            timeout=self.recall_timeout if for_recall else self.write_timeout,
            secrets=(key,),
            hints={
                "auth": auth_hint,
                "transport": f"is the mem0 server running at {url}? (docker compose publishes it on port 8888)",
                404: f"check mem0.base_url ({url}): this server has no /v1 prefix and no trailing slashes",
            },
        )

    # -- records -----------------------------------------------------------------------------------
    def _memory(self, raw: Any) -> Memory | None:
        if not isinstance(raw, dict) or raw.get("id") is None:
            return None
        return _http.memory_from(
            id=raw["id"],
            text=raw.get("memory"),
            metadata=raw.get("metadata"),
            created_at=raw.get("created_at"),
            session_id=raw.get("run_id"),
            score=raw.get("score"),
            role=raw.get("role"),
        )

    def _results(self, answer: Any) -> list[Memory]:
        rows = answer.get("results") if isinstance(answer, dict) else answer
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise BackendUnavailable(
                f"{self.service} answered with an unexpected body (results: {type(rows).__name__})",
                hint="check mem0.base_url: is it a mem0 server?",
            )
        return [m for m in (self._memory(r) for r in rows) if m is not None]

    # -- Backend -----------------------------------------------------------------------------------
    @property
    def takes_batches(self) -> bool:  # type: ignore[override]
        """With ``infer`` the server extracts facts from the messages of a request together: several turns
        of one session go in one add. Without it each message becomes a memory, and keeps its own metadata
        only when sent alone."""
        return self.infer

    def _add_one(self, item: MemoryItem) -> None:
        """Send one item (``HttpBackend.add`` calls this per item, under the breaker)."""
        self._add_batch([item])

    def _add_batch(self, items: list[MemoryItem]) -> None:
        """One ``POST /memories`` for ``items`` (one session's turns, in order)."""
        item = items[-1]
        body: dict[str, Any] = {
            "messages": [{"role": _http.api_role(i.role), "content": i.text} for i in items],
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "metadata": _http.batch_metadata(items, user_id=self.user_id),
            "infer": self.infer,
        }
        if item.session_id:
            body["run_id"] = item.session_id
        expires = _http.expiration_date(item.created_at, self.retention_days)
        if expires:
            body["expiration_date"] = expires
        answer = self.api.call_json("POST", "/memories", json=body)
        if not isinstance(answer, dict) or not isinstance(answer.get("results", []), list):
            raise BackendUnavailable(
                f"{self.service} answered POST /memories with an unexpected body",
                server_message=_http.server_message(answer),
                hint="check mem0.base_url: is it a mem0 server?",
            )

    def search(self, query: str, *, project: str, limit: int, deadline: float | None = None) -> list[Memory]:
        names = _http.project_names(project)
        if not query.strip() or limit <= 0:
            return []
        deadline = self._deadline(deadline)
        filtered = names is not None and not breaker.is_open(self.filters_breaker)
        body = {"query": query[:MAX_QUERY_CHARS], "filters": self._filters(names if filtered else None)}
        # Filtered by the server, a few spares for what it lets through and ``in_scope`` drops (another
        # client's memory with a project of its own); filtered here, an over-fetch.
        body["top_k"] = min(limit + FILTER_SPARES, 100) if filtered else min(max(limit * 3, limit + 10), 100)

        def run() -> Any:
            try:
                return self.api.call_json("POST", "/search", json=body, deadline=deadline)
            except BackendRejected as exc:
                if not filtered or exc.status not in (400, 422):
                    raise
                # A vector store without these operators: filter here from now on (for a day).
                breaker.record_failure(self.filters_breaker, str(exc), FILTERS_PARK_SECONDS)
                body.update(filters=self._filters(None), top_k=min(max(limit * 3, limit + 10), 100))
                return self.api.call_json("POST", "/search", json=body, deadline=deadline)

        found = [m for m in self._results(self._guarded(run, deadline=deadline)) if _http.in_scope(m, names)]
        found.sort(key=lambda m: m.score or 0.0, reverse=True)
        return found[:limit]

    def _filters(self, names: frozenset[str] | None) -> dict[str, Any]:
        """The search filter: this user's memories, and with ``names`` only those recall may see (the
        rule of ``_http.in_scope``, applied by the server): every memory except ours (carrying
        ``mem0_hooks_id``) of other projects that are not user-wide. Measured against the real server
        (pgvector): ``NOT`` at the top level works where a ``NOT`` nested in an ``OR`` is ignored, and
        ``filters.metadata`` is refused (400)."""
        filters: dict[str, Any] = {"user_id": self.user_id}
        if names is not None:
            filters["NOT"] = [{"mem0_hooks_id": "*", "project": {"nin": sorted(names)}, "scope": {"ne": "user"}}]
        return filters

    def _listing(self, *, run_id: str | None = None, deadline: float | None = None) -> list[Memory]:
        params = {"user_id": self.user_id, "top_k": LIST_LIMIT, "run_id": run_id or None}
        return self._results(self.api.call_json("GET", "/memories", params=params, deadline=deadline))

    def session_memories(self, session_id: str, *, deadline: float | None = None) -> list[Memory]:
        """Every memory of one session (``GET /memories?user_id=&run_id=``, one request): the turns around
        a hit that another machine captured, which this machine's local index does not hold."""
        deadline = self._deadline(deadline)
        return self._guarded(lambda: self._listing(run_id=session_id, deadline=deadline), deadline=deadline)

    def _scan(self, session_id: str | None) -> Iterator[Memory]:
        return iter(self._listing(run_id=session_id))

    def recent(self, *, project: str, limit: int) -> list[Memory]:
        names = _http.project_names(project)
        deadline = self._deadline(None)
        memories = self._guarded(lambda: self._listing(deadline=deadline), deadline=deadline)
        return _http.newest_first([m for m in memories if _http.in_scope(m, names)])[:limit]

    def get(self, memory_id: str) -> Memory | None:
        """``GET /memories/{id}``: ``null`` (200) for an id it does not have; an id that is not a UUID
        makes this server fail (502), so it is not asked."""
        if not _http.is_uuid(memory_id):
            return None
        answer = self._guarded(lambda: self.api.call_json("GET", f"/memories/{quote(memory_id, safe='')}"))
        return self._memory(answer) if isinstance(answer, dict) else None

    def delete(self, memory_id: str) -> bool:
        return self._delete_one(f"/memories/{quote(memory_id, safe='')}")

    def delete_all(self, *, project: str | None = None) -> int:
        names = _http.project_names(project)

        def run() -> int:
            deleted = 0
            for memory in self._listing():
                if self._ours(memory) and _http.of_project(memory, names):
                    try:
                        self.api.call("DELETE", f"/memories/{quote(memory.id, safe='')}")
                        deleted += 1
                    except BackendRejected as exc:
                        if exc.status != 404:
                            raise
            return deleted

        return self._guarded(run)

    def count(self) -> int | None:
        """How many memories the user has; None past the server's listing cap (1000)."""
        memories = self._guarded(self._listing)
        return len(memories) if len(memories) < LIST_LIMIT else None

    def health(self) -> str:
        url = _http.public_url(self.base_url)

        def run() -> None:
            spec = self.api.call_json("GET", "/openapi.json")
            paths = spec.get("paths") if isinstance(spec, dict) else None
            if not isinstance(paths, dict) or "/search" not in paths or "/memories" not in paths:
                raise BackendRejected(
                    f"{url} answers, but it is not a mem0 REST server (no /memories and /search in /openapi.json)",
                    hint="check mem0.base_url (the server's API is on port 8888 with docker compose)",
                )
            self.api.call_json(
                "POST",
                "/search",
                json={"query": "mem0-hooks health check", "filters": {"user_id": self.user_id}, "top_k": 1},
            )

        self._guarded(run, check_breaker=False)
        return (
            f"{self.service} at {url}: authenticated ({self.auth_scheme}), search works; "
            f"user_id {self.user_id!r}, agent_id {self.agent_id!r}"
        )

    # Last in the class on purpose: after it, ``list`` in an annotation would name this method.
    def list(self, *, project: str | None = None, limit: int | None = None) -> list[Memory]:
        names = _http.project_names(project)
        memories = [m for m in self._guarded(self._listing) if _http.of_project(m, names)]
        memories = _http.newest_first(memories)
        return memories if limit is None else memories[:limit]
