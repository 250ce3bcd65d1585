"""From a prompt to the memories worth injecting.

Searches this machine's store: the local one, or the hybrid one (the local index fused with a remote
store's own search, under its deadline and circuit breaker: ``ranking.fusion``), leaves out what this
session already has in context, and hands the rest to ``context.format_context``. A remote store that
fails leaves the local half (``claude_code.fallback_mode: local``, the default) or nothing (``skip``).
SessionStart's orientation is ``orientation``'s.
"""

from __future__ import annotations

import time

from mem0_hooks.errors import BackendError, BackendUnavailable
from mem0_hooks.ranking.query import is_trivial

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable
    from typing import Any

    from mem0_hooks.backends.base import Memory
    from mem0_hooks.ranking.turns import Found


def remote_backend(config: dict[str, Any]) -> Any | None:
    """The remote store to ask now: None with the local backend, or while the breaker holds it back."""
    name = config["backend"]
    if name == "local":
        return None
    from mem0_hooks import breaker

    if breaker.is_open(name):
        return None
    from mem0_hooks.backends import open_backend

    return open_backend(config, for_recall=True)


_OPEN: dict[str, tuple[tuple[int, int] | None, Any]] = {}  # store path -> (file identity, LocalStore)


def local_store() -> Any:
    """The embedded store, kept open for the life of the process: the warm process serves every hook
    with one connection (and its page cache). Opened again when the file was replaced or removed."""
    import os

    from mem0_hooks import paths
    from mem0_hooks.backends.local import LocalStore

    path = paths.store_db()
    try:
        st = os.stat(path)
        identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
    except OSError:
        identity = None
    kept = _OPEN.get(path)
    if kept is not None and identity is not None and kept[0] == identity:
        return kept[1]
    if kept is not None:
        kept[1].close()
    store = LocalStore(path)
    _OPEN[path] = (identity, store)
    return store


# Ranked turns handed to the formatter. A full 4,600-character block holds about 25; the rest are
# spares for those it passes over (a repeated text, an exchange past ``max_context_memories``, a turn
# too long for the room left). (80 recalled no more on LoCoMo, and formatting them cost more.)
RECALL_TURNS = 50


def guarded_search(backend: Any, config: dict[str, Any], query: str, project: str, limit: int) -> list[Memory]:
    """Search with the hot-path deadline; a remote failure opens the breaker and yields nothing."""
    if backend.name == "local":
        return list(backend.search(query, project=project, limit=limit))
    from mem0_hooks import breaker

    mem0 = config["mem0"]
    deadline = time.monotonic() + mem0["recall_timeout_seconds"]
    try:
        found = list(backend.search(query, project=project, limit=limit, deadline=deadline))
    except BackendError as exc:
        if exc.retryable:
            cooldown = max(mem0["breaker_cooldown_seconds"], exc.retry_after or 0)
            breaker.record_failure(config["backend"], str(exc), cooldown)
        raise
    breaker.record_success(config["backend"])
    return found


def semantic_weight(config: dict[str, Any]) -> float:
    """How much closeness in meaning counts in the local store's ranking: ``memory.semantic_weight``, or 0
    when semantic recall is off (``memory.semantic``, or ``memory.cache_embeddings``: without kept
    embeddings there is nothing to search by meaning)."""
    memory_cfg = config["memory"]
    if not (memory_cfg["semantic"] and memory_cfg.get("cache_embeddings", True)):
        return 0.0
    return float(memory_cfg["semantic_weight"])


def load_embeddings() -> bool:
    """Load the embedding model into this long-lived process (the warm process, the memory tools' server,
    the CLI), so its searches rank by meaning as well as by words; never on a hook's own path. A model
    that cannot be loaded is logged once per process; recall then ranks by words alone."""
    from mem0_hooks import embedding

    if embedding.loaded() is not None:
        return True
    try:
        embedding.load()
    except embedding.EmbeddingUnavailable as exc:
        from mem0_hooks.log import log

        log(f"recall is by words only: {exc}", level="WARNING")
        return False
    return True


class RemoteSkipped(Exception):
    """Recall must inject nothing: the remote store failed (or is held back) and there is no local half
    to fall back on (``claude_code.fallback_mode: skip``, or ``mem0.local_index`` off)."""

    def __init__(self, error: BackendError, *, asked: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.asked = asked  # False: the breaker held the store back, nothing was tried


def hybrid_search(
    query: str,
    *,
    project: str,
    config: dict[str, Any],
    limit: int,
    skip_session: str = "",
    skip_ids: Collection[str] = (),
    event: str = "recall",
    load_model: bool = False,
) -> Found:
    """``query`` ranked in this machine's store: the local index, fused with the remote store's own search
    when there is one (``ranking.fusion``). A remote store that fails, is slow or answers garbage leaves
    the local half and one line in the log; ``RemoteSkipped`` when that leaves nothing to recall from.
    ``load_model``: load the embedding model into this process first (long-lived processes only, never
    a hook: see ``load_embeddings``)."""
    from mem0_hooks.ranking import fusion

    memory_cfg = config["memory"]
    min_share = memory_cfg["min_relevance"]
    weight = semantic_weight(config)
    if weight and load_model:
        load_embeddings()
    scope: dict[str, Any] = {
        "project": project,
        "limit": limit,
        "skip_session": skip_session,
        "skip_ids": skip_ids,
        "min_share": min_share,
    }
    if config["backend"] == "local":
        return local_store().search_turns(query, semantic_weight=weight, **scope)
    from mem0_hooks.config import keeps_local_index

    falls_back = keeps_local_index(config) and config["claude_code"]["fallback_mode"] == "local"
    backend = remote_backend(config)
    if backend is None:
        if not falls_back:
            raise RemoteSkipped(_held_back(config), asked=False)
        pending = None
    else:
        mem0 = config["mem0"]
        read_session = getattr(backend, "session_memories", None)
        pending = fusion.start(
            lambda: guarded_search(backend, config, query, project, fusion.REMOTE_HITS),
            mem0["recall_timeout_seconds"],
            (lambda session_id, deadline: read_session(session_id, deadline=deadline)) if read_session else None,
        )
    try:
        store = local_store() if keeps_local_index(config) else None
        try:
            found = fusion.search(store, pending, query, semantic_weight=weight, **scope)
        except BackendError as exc:  # the local index failed: the remote half alone
            _log_once(
                f"{event}: the local index failed, recalled from the {config['backend']} store alone: "
                f"{type(exc).__name__}: {exc}"
            )
            found = fusion.search(None, pending, query, **scope)
        if pending is not None and pending.error is not None:
            error = as_backend_error(pending.error, config)
            if error.retryable:
                record_failure(config, error)
            if not falls_back:
                raise RemoteSkipped(error, asked=True)
            _log_once(
                f"{event}: recalled from the local index alone, the {config['backend']} store failed: "
                f"{type(error).__name__}: {error}"
            )
    finally:
        if backend is not None:
            backend.close()
    return found


def as_backend_error(error: BaseException, config: dict[str, Any]) -> BackendError:
    """A remote failure as a ``BackendError`` (a store that answered something its parser choked on
    counts as unavailable)."""
    if isinstance(error, BackendError):
        return error
    return BackendUnavailable(f"the {config['backend']} store's answer could not be read: {error!r}")


def record_failure(config: dict[str, Any], error: BackendError) -> None:
    """Open the breaker for the remote store (the same failure recorded twice at once counts once)."""
    from mem0_hooks import breaker

    mem0 = config["mem0"]
    cooldown = max(mem0["breaker_cooldown_seconds"], error.retry_after or 0)
    breaker.record_failure(config["backend"], str(error), cooldown)


def _held_back(config: dict[str, Any]) -> BackendError:
    from mem0_hooks import breaker

    state = breaker.status(config["backend"])
    return BackendUnavailable(
        f"the {config['backend']} store failed recently and is skipped for {state['seconds_left']:.0f}s more",
        server_message=state["last_failure"],
    )


def _log_once(line: str) -> None:
    from mem0_hooks.log import log

    log(line, level="WARNING")


def search(query: str, *, project: str, config: dict[str, Any], limit: int) -> list[Memory]:
    """Memories for ``query`` ranked as recall ranks them (this project's and user-wide ones), best
    first: the search behind the memory tools (``mem0-hooks mcp``) and ``mem0-hooks search``.
    BackendError when there is nothing to search: the remote store failed (or the breaker holds it
    back) and there is no local half to fall back on."""
    try:
        found = hybrid_search(query, project=project, config=config, limit=limit, event="search", load_model=True)
    except RemoteSkipped as skipped:
        raise skipped.error from None
    return list(found.memories)


def for_prompt(
    prompt: str,
    *,
    session_id: str,
    project: str,
    config: dict[str, Any],
    state: dict[str, Any],
    shown: list[Memory] | None = None,
) -> tuple[str, list[str]]:
    """The block to inject for ``prompt`` (``""`` for nothing) and the ids it holds; ``shown`` (when
    given) gets the memories placed in the block, with their scores (the record of injections).

    Ranked turns plus which follows which: the block shows adjacent turns as one exchange.
    ``max_context_memories`` caps the exchanges; the character budget caps the turns, and
    ``min_relevance`` leaves out the weak ones, so a prompt with one clear answer gets a short block.
    The search itself leaves out this session's turns and those already injected. With a remote store
    the ranking is the hybrid one (``hybrid_search``), packed the same way.
    """
    memory_cfg = config["memory"]
    if is_trivial(prompt, memory_cfg["min_prompt_words"]):
        return "", []
    seen = set(state.get("injected") or ())
    try:
        found = hybrid_search(
            prompt,
            project=project,
            config=config,
            limit=RECALL_TURNS,
            skip_session=session_id,
            skip_ids=seen,
            event="UserPromptSubmit",
        )
    except RemoteSkipped as skipped:
        if not skipped.asked:
            return "", []  # the breaker is open: nothing asked, nothing to log
        raise skipped.error from None  # logged by the hook, which injects nothing
    from mem0_hooks.context import format_context

    block, placed = format_context(
        found.memories,
        budget=memory_cfg["context_budget_chars"],
        max_items=memory_cfg["max_context_memories"],
        follows=found.follows,
        words=found.words,
        context=found.context,
    )
    if shown is not None:
        _placed(shown, placed, found.memories)
    return block, placed


def _placed(shown: list[Memory], placed: list[str], memories: Iterable[Memory]) -> None:
    """Append to ``shown`` the memories whose ids are in ``placed``, in the block's order."""
    if placed:
        by_id = {m.id: m for m in memories}
        shown.extend(by_id[i] for i in placed if i in by_id)
