"""The hosted Mem0 Platform (``https://api.mem0.ai``), authenticated with ``Authorization: Token <key>``.

Routes used (contracts in the project's spec, ``mem0-apis.md`` A1):

    add        POST   /v1/memories/            one request per item; 200 with PENDING events is success
    search     POST   /v2/memories/search/     query + filters (required), top_k; answers a bare array
    list       POST   /v2/memories/            the same filters, paged (page, page_size)
    count      GET    /v1/memories/?user_id=&page=1&page_size=1   its ``count``
    delete     DELETE /v1/memories/{id}/       404 -> False
    delete_all DELETE /v1/batch/               only memories mem0-hooks wrote (see below), 100 per request
    health     GET    /v1/ping/                validates the key

Identity: ``user_id`` (config), ``agent_id`` (mem0.agent_id), ``run_id`` (the Claude Code session); the
project, role, turn time, scope and the item's stable id (``mem0_hooks_id``) go in ``metadata``.

Filters. v2 filters accept only ``user_id, agent_id, app_id, run_id, created_at, updated_at, categories,
keywords`` (no metadata), so the project restriction is applied here, on an over-fetched result.
The Platform matches entity ids strictly (issue threads: with ``user_id`` + ``agent_id`` an added
message is attributed to one of them, and ``*`` matches only non-null values), so the filter names
each way our memories can be attributed::

    {"OR": [{"user_id": U},                                  # notes and user-level memories
            {"AND": [{"user_id": U}, {"run_id": "*"}]},      # session turns attributed to the user
            {"AND": [{"agent_id": A}, {"run_id": "*"}]}]}    # session turns attributed to the agent

and results attributed to the agent are kept only when their metadata names this user.

Adds are asynchronous (``PENDING``): a 200 means queued, not stored; the memory appears later (or not
at all, when Mem0 finds nothing new). ``already_stored`` can therefore only see items whose processing
finished; it pages the v2 listing (narrowed to the session's ``run_id`` when known) for
``metadata.mem0_hooks_id``.

``recent`` (SessionStart, under the recall deadline) reads only the first two pages of the listing, which
the Platform is assumed to return newest first; the rest is sorted here.

``delete_all`` never touches memories other Mem0 clients wrote under the same ``user_id``: it deletes
the ones carrying ``mem0_hooks_id``, by id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from mem0_hooks import config as config_module
from mem0_hooks.backends import _http
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.errors import BackendRejected, BackendUnavailable

DEFAULT_URL = "https://api.mem0.ai"
PAGE_SIZE = 100
MAX_PAGES = 200
RECENT_PAGES = 2  # SessionStart has the recall deadline: look at the newest 200 memories, not all of them
MAX_QUERY_CHARS = 4000
KEYS_URL = "https://app.mem0.ai/dashboard/api-keys"


class PlatformBackend(_http.HttpBackend):
    """Mem0 Platform store: ``PlatformBackend(config, for_recall=False)``."""

    name = "platform"
    service = "Mem0 Platform"
    default_url = DEFAULT_URL

    def __init__(self, config: dict[str, Any], *, for_recall: bool = False) -> None:
        super().__init__(config, for_recall=for_recall)
        mem0 = config.get("mem0") or {}
        self.org_id = mem0.get("org_id") or None
        self.project_id = mem0.get("project_id") or None
        key = config_module.api_key(config)
        if not key:
            raise BackendRejected(
                "the Mem0 Platform needs an API key and none is set",
                hint=f"export MEM0_API_KEY=m0-… or run `mem0-hooks config set-key`; keys are at {KEYS_URL}",
            )
        self.api = _http.Api(
            self.service,
            self.base_url,
            headers={"Authorization": f"Token {key}"},
            timeout=self.recall_timeout if for_recall else self.write_timeout,
            secrets=(key,),
            hints={
                "auth": f"check MEM0_API_KEY (or the api_key file): wrong or revoked key? keys are at {KEYS_URL}",
                404: f"check mem0.base_url ({_http.public_url(self.base_url)})",
                "transport": f"check the network connection and mem0.base_url ({_http.public_url(self.base_url)})",
            },
        )

    # -- shared request pieces ---------------------------------------------------------------------
    def _account(self) -> dict[str, str]:
        return {k: v for k, v in (("org_id", self.org_id), ("project_id", self.project_id)) if v}

    def _filters(self, run_id: str = "*") -> dict[str, Any]:
        """Every way a memory of ours can be attributed (module docstring); ``run_id`` narrows to a session."""
        branches: list[dict[str, Any]] = [{"user_id": self.user_id}] if run_id == "*" else []
        branches += [
            {"AND": [{"user_id": self.user_id}, {"run_id": run_id}]},
            {"AND": [{"agent_id": self.agent_id}, {"run_id": run_id}]},
        ]
        return {"OR": branches}

    def _memory(self, raw: dict[str, Any]) -> Memory | None:
        if not isinstance(raw, dict) or raw.get("id") is None:
            return None
        md = raw.get("metadata")
        if not isinstance(md, dict):
            md = {}
        if (raw.get("user_id") or md.get("user_id")) != self.user_id:
            return None  # attributed to the agent only, and not written by us for this user
        memory = _http.memory_from(
            id=raw["id"],
            text=raw.get("memory") or raw.get("text"),
            metadata=md,
            created_at=raw.get("created_at"),
            session_id=raw.get("run_id") or raw.get("session_id"),
            score=raw.get("score"),
        )
        if raw.get("categories") and "categories" not in memory.metadata:
            memory.metadata["categories"] = raw["categories"]
        return memory

    # -- Backend -----------------------------------------------------------------------------------
    @property
    def takes_batches(self) -> bool:  # type: ignore[override]
        """With ``infer`` Mem0 extracts facts from the messages of a request together: several turns of
        one session go in one add. Without it each turn is a memory of its own, with its own metadata."""
        return self.infer

    def _add_one(self, item: MemoryItem) -> None:
        """Send one item (``HttpBackend.add`` calls this per item, under the breaker)."""
        self._add_batch([item])

    def _add_batch(self, items: list[MemoryItem]) -> None:
        """One add request for ``items`` (one session's turns, in order)."""
        item = items[-1]
        body: dict[str, Any] = {
            "messages": [{"role": _http.api_role(i.role), "content": i.text} for i in items],
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "metadata": _http.batch_metadata(items, user_id=self.user_id),
            "infer": self.infer,
            "version": "v2",
            "output_format": "v1.1",
            **self._account(),
        }
        if item.session_id:
            body["run_id"] = item.session_id
        timestamp = _http.unix_time(item.created_at)
        if timestamp is not None:
            body["timestamp"] = timestamp
        expires = _http.expiration_date(item.created_at, self.retention_days)
        if expires:
            body["expiration_date"] = expires
        answer = self.api.call_json("POST", "/v1/memories/", json=body)
        events = answer.get("results") if isinstance(answer, dict) else answer
        if not isinstance(events, list):
            raise BackendUnavailable(
                f"{self.service} answered POST /v1/memories/ with an unexpected body",
                server_message=_http.server_message(answer),
                hint=f"is {_http.public_url(self.base_url)} really the Mem0 Platform? check mem0.base_url",
            )
        # PENDING (queued), SUCCEEDED, or the old synchronous ADD/UPDATE/NOOP events: all accepted.

    def search(self, query: str, *, project: str, limit: int, deadline: float | None = None) -> list[Memory]:
        names = _http.project_names(project)
        if not query.strip() or limit <= 0:
            return []
        deadline = self._deadline(deadline)
        body = {
            "query": query[:MAX_QUERY_CHARS],
            "filters": self._filters(),
            "top_k": min(max(limit * 3, limit + 10), 100),  # project filtering happens here, so over-fetch
            "version": "v2",
            **self._account(),
        }

        def run() -> Any:
            return self.api.call_json("POST", "/v2/memories/search/", json=body, deadline=deadline)

        answer = self._guarded(run, deadline=deadline)
        rows = answer.get("results") if isinstance(answer, dict) else answer
        found = [m for m in (self._memory(r) for r in rows or []) if m is not None and _http.in_scope(m, names)]
        found.sort(key=lambda m: m.score or 0.0, reverse=True)
        return found[:limit]

    def _pages(
        self, filters: dict[str, Any], deadline: float | None = None, max_pages: int = MAX_PAGES
    ) -> Iterator[Memory]:
        for page in range(1, max_pages + 1):
            try:
                answer = self.api.call_json(
                    "POST",
                    "/v2/memories/",
                    params={"page": page, "page_size": PAGE_SIZE},
                    json={"filters": filters, "page": page, "page_size": PAGE_SIZE, **self._account()},
                    deadline=deadline,
                )
            except BackendRejected as exc:
                if exc.status == 404 and page > 1:  # "Invalid page.": past the end
                    return
                raise
            rows = answer.get("results") if isinstance(answer, dict) else answer
            rows = rows if isinstance(rows, list) else []
            for raw in rows:
                memory = self._memory(raw)
                if memory is not None:
                    yield memory
            more = answer.get("next") if isinstance(answer, dict) else len(rows) >= PAGE_SIZE
            if not rows or not more:
                return

    def session_memories(self, session_id: str, *, deadline: float | None = None) -> list[Memory]:
        """The memories of one session (its first page of the listing, one request): the turns around a
        hit that another machine captured, which this machine's local index does not hold."""
        deadline = self._deadline(deadline)
        return self._guarded(
            lambda: list(self._pages(self._filters(session_id), deadline, max_pages=1)), deadline=deadline
        )

    def _scan(self, session_id: str | None) -> Iterator[Memory]:
        return self._pages(self._filters(session_id or "*"))

    def recent(self, *, project: str, limit: int) -> list[Memory]:
        names = _http.project_names(project)
        deadline = self._deadline(None)

        def run() -> list[Memory]:
            pages = self._pages(self._filters(), deadline, max_pages=RECENT_PAGES)
            return [m for m in pages if _http.in_scope(m, names)]

        return _http.newest_first(self._guarded(run, deadline=deadline))[:limit]

    def get(self, memory_id: str) -> Memory | None:
        """``GET /v1/memories/{id}/``; None for an id it does not have (404)."""

        def run() -> Memory | None:
            try:
                answer = self.api.call_json("GET", f"/v1/memories/{quote(memory_id, safe='')}/")
            except BackendRejected as exc:
                if exc.status in (400, 404):
                    return None
                raise
            return self._memory(answer) if isinstance(answer, dict) else None

        return self._guarded(run)

    def delete(self, memory_id: str) -> bool:
        return self._delete_one(f"/v1/memories/{memory_id}/")

    def delete_all(self, *, project: str | None = None) -> int:
        names = _http.project_names(project)

        def run() -> int:
            doomed = [m.id for m in self._pages(self._filters()) if self._ours(m) and _http.of_project(m, names)]
            for start in range(0, len(doomed), 100):
                chunk = doomed[start : start + 100]
                self.api.call("DELETE", "/v1/batch/", json={"memories": [{"memory_id": i} for i in chunk]})
            return len(doomed)

        return self._guarded(run)

    def count(self) -> int | None:
        def run() -> int | None:
            answer = self.api.call_json(
                "GET", "/v1/memories/", params={"user_id": self.user_id, "page": 1, "page_size": 1, **self._account()}
            )
            return int(answer["count"]) if isinstance(answer, dict) and isinstance(answer.get("count"), int) else None

        return self._guarded(run)

    def health(self) -> str:
        answer = self._guarded(lambda: self.api.call_json("GET", "/v1/ping/"), check_breaker=False)
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            raise BackendRejected(
                f"{self.service} at {_http.public_url(self.base_url)} did not confirm the API key",
                server_message=_http.server_message(answer),
                hint="check mem0.base_url",
            )
        where = ", ".join(f"{k} {answer[k]}" for k in ("org_id", "project_id") if answer.get(k))
        return (
            f"{self.service} at {_http.public_url(self.base_url)}: API key accepted"
            + (f" ({where})" if where else "")
            + f"; user_id {self.user_id!r}, agent_id {self.agent_id!r}"
        )

    # Last in the class on purpose: after it, ``list`` in an annotation would name this method.
    def list(self, *, project: str | None = None, limit: int | None = None) -> list[Memory]:
        names = _http.project_names(project)

        def run() -> list[Memory]:
            return [m for m in self._pages(self._filters()) if _http.of_project(m, names)]

        memories = _http.newest_first(self._guarded(run))
        return memories if limit is None else memories[:limit]
