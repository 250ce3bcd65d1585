"""From a prompt (or a session start) to the memories worth injecting.

Picks the store (the local one, a remote one under its deadline and circuit breaker, or the local
fallback while a remote is down), drops what this session already has in context, and hands the
rest to ``context.format_context``.
"""

from __future__ import annotations

import time

from mem0_hooks.ranking.query import is_trivial

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from mem0_hooks.backends.base import Memory


def recall_backend(config: dict[str, Any]) -> Any | None:
    """The store to search now, or None when recall must skip the network (breaker open, no fallback)."""
    name = config["backend"]
    if name == "local":
        return local_store()
    from mem0_hooks import breaker

    if breaker.is_open(name):
        if config["claude_code"]["fallback_mode"] == "local":
            return local_store()
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


# Ranked turns handed to the formatter. A full 6,000-character block holds about 30-35; the rest are
# spares for those it passes over (a repeated text, an exchange past ``max_context_memories``, a turn
# too long for the room left). (80 recalled no more on LoCoMo, and formatting them cost more.)
RECALL_TURNS = 50


def guarded_search(backend: Any, config: dict[str, Any], query: str, project: str, limit: int) -> list[Memory]:
    """Search with the hot-path deadline; a remote failure opens the breaker and yields nothing."""
    if backend.name == "local":
        return list(backend.search(query, project=project, limit=limit))
    from mem0_hooks import breaker
    from mem0_hooks.errors import BackendError

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


def search(query: str, *, project: str, config: dict[str, Any], limit: int) -> list[Memory]:
    """Memories for ``query`` ranked as recall ranks them (this project's and user-wide ones), best
    first: the search behind the memory tools (``mem0-hooks mcp``). BackendError when the store
    cannot answer, including a remote one the breaker holds back."""
    backend = recall_backend(config)
    if backend is None:
        from mem0_hooks import breaker
        from mem0_hooks.errors import BackendUnavailable

        state = breaker.status(config["backend"])
        raise BackendUnavailable(
            f"the {config['backend']} store failed recently and is skipped for {state['seconds_left']:.0f}s more",
            server_message=state["last_failure"],
        )
    if backend.name == "local":
        memory_cfg = config["memory"]
        weight = semantic_weight(config)
        if weight:
            load_embeddings()
        found = backend.search_turns(
            query, project=project, limit=limit, min_share=memory_cfg["min_relevance"], semantic_weight=weight
        )
        return list(found.memories)
    try:
        return guarded_search(backend, config, query, project, limit)
    finally:
        backend.close()


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
    given) gets the memories placed in the block, with their scores (the record of injections)."""
    memory_cfg = config["memory"]
    if is_trivial(prompt, memory_cfg["min_prompt_words"]):
        return "", []
    backend = recall_backend(config)
    if backend is None:
        return "", []
    limit = memory_cfg["max_context_memories"]
    follows: dict[str, str] | None = None
    context: frozenset[str] = frozenset()
    words: list[str] | str = prompt
    seen = set(state.get("injected") or ())
    if backend.name == "local":
        # Ranked turns plus which follows which: the block shows adjacent turns as one exchange.
        # ``max_context_memories`` caps the exchanges; the character budget caps the turns, and
        # ``min_relevance`` leaves out the weak ones, so a prompt with one clear answer gets a short
        # block. The search itself leaves out this session's turns and those already injected.
        found = backend.search_turns(
            prompt,
            project=project,
            limit=RECALL_TURNS,
            skip_session=session_id,
            skip_ids=seen,
            min_share=memory_cfg["min_relevance"],
            semantic_weight=semantic_weight(config),
        )
        memories, follows, words, context = found.memories, found.follows, found.words, found.context
    else:
        memories = [
            m
            for m in guarded_search(backend, config, prompt, project, limit * 3)
            if m.id not in seen and m.session_id != session_id
        ]
    from mem0_hooks.context import format_context

    block, placed = format_context(
        memories,
        budget=memory_cfg["context_budget_chars"],
        max_items=limit,
        follows=follows,
        words=words,
        context=context,
    )
    if shown is not None:
        _placed(shown, placed, memories)
    return block, placed


def _placed(shown: list[Memory], placed: list[str], memories: Iterable[Memory]) -> None:
    """Append to ``shown`` the memories whose ids are in ``placed``, in the block's order."""
    if placed:
        by_id = {m.id: m for m in memories}
        shown.extend(by_id[i] for i in placed if i in by_id)


def for_session_start(
    *,
    session_id: str,
    project: str,
    config: dict[str, Any],
    state: dict[str, Any],
    shown: list[Memory] | None = None,
) -> tuple[str, list[str]]:
    """Orientation for a session: what happened last time here, then notes and recent memories
    (``shown``, when given, gets the memories placed in it, as ``for_prompt``'s does)."""
    from mem0_hooks.context import format_context

    memory_cfg = config["memory"]
    backend = recall_backend(config)
    if backend is None:
        return "", []
    seen = set(state.get("injected") or ())
    sections: list[tuple[str, list[Memory]]] = []
    if backend.name == "local":
        last = [m for m in backend.last_session(project=project, exclude_session=session_id) if m.id not in seen]
        if last:
            sections.append((f"Last session in this project ({last[0].created_at[:10]}):", _summarise(last)))
        notes = [m for m in backend.notes(project=project, limit=10) if m.id not in seen]
        if notes:
            sections.append(("Notes you asked to remember:", notes))
        taken = {m.id for _, items in sections for m in items}
        recent = [
            m
            for m in backend.recent(project=project, limit=8)
            if m.id not in seen and m.id not in taken and m.session_id != session_id
        ]
        if recent and not last:
            sections.append(("Recent memories for this project:", recent))
    else:
        mem0 = config["mem0"]
        from mem0_hooks import breaker
        from mem0_hooks.errors import BackendError

        try:
            recent = [m for m in backend.recent(project=project, limit=10) if m.id not in seen]
        except BackendError as exc:
            if exc.retryable:
                breaker.record_failure(config["backend"], str(exc), mem0["breaker_cooldown_seconds"])
            raise
        if recent:
            sections.append(("Memories for this project and user:", recent))
    if not sections:
        return "", []
    block, placed = format_context(
        [], budget=memory_cfg["session_start_budget_chars"], title=f"Project: {project}", sections=sections
    )
    if shown is not None:
        _placed(shown, placed, (m for _, items in sections for m in items))
    return block, placed


def _summarise(turns: list[Memory]) -> list[Memory]:
    """The gist of a session without a language model: its user requests and its last reply."""
    users = [t for t in turns if t.role == "user"]
    picked = users[:3] + users[-2:] if len(users) > 5 else users
    last_reply = next((t for t in reversed(turns) if t.role == "assistant"), None)
    out = list({t.id: t for t in picked}.values())
    if last_reply is not None:
        out.append(last_reply)
    return out
