"""SessionStart's orientation: what happened last time in this project, the notes, the recent memories.

From the local index (the local store, or the one kept beside a remote store) and, with a remote store,
from its newest memories of the project as well, asked at once and under the recall deadline:

* **Last session**: the newest session of the project, from whichever machine. The local index knows
  this machine's sessions with every turn; the remote store knows every machine's (a remote memory
  carries its session as ``run_id`` and its turn time in metadata). When the remote store's newest
  session is newer than this machine's, it is summarised from its memories there.
* **Notes** (``mem0-hooks add``, the memory tools): this machine's, and the remote store's that are not
  held here.
* **Recent memories**: when there is no last session to show, the newest memories of the project; with
  a remote store, also those it has and this machine does not (other machines, Mem0's own tools).

A memory the remote store has and the local index holds too (``ranking.fusion.resolve``) is shown once,
from the local index. A remote store that fails leaves the local half (one line in the log), or nothing
with ``claude_code.fallback_mode: skip``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mem0_hooks.backends.base import Memory

REMOTE_RECENT = 60  # newest remote memories of the project read at a session start
NOTES = 10
RECENT = 8


def for_session_start(
    *,
    session_id: str,
    project: str,
    config: dict[str, Any],
    state: dict[str, Any],
    shown: list[Memory] | None = None,
) -> tuple[str, list[str]]:
    """The orientation block for a session (``""`` for nothing) and the ids it holds; ``shown`` (when
    given) gets the memories placed in it, with their scores (the record of injections)."""
    from mem0_hooks import recall
    from mem0_hooks.config import keeps_local_index
    from mem0_hooks.context import format_context
    from mem0_hooks.ranking import fusion

    memory_cfg = config["memory"]
    seen = set(state.get("injected") or ())
    remote = config["backend"] != "local"
    falls_back = keeps_local_index(config) and (not remote or config["claude_code"]["fallback_mode"] == "local")
    pending = None
    if remote:
        backend = recall.remote_backend(config)
        if backend is None:
            if not falls_back:
                return "", []  # held back by the breaker: nothing asked, nothing to log
        else:
            pending = fusion.start(
                lambda: _remote_recent(backend, config, project), config["mem0"]["recall_timeout_seconds"]
            )
    store = recall.local_store() if keeps_local_index(config) else None

    last: list[Memory] = []
    notes: list[Memory] = []
    recent: list[Memory] = []
    if store is not None:
        try:
            last = [m for m in store.last_session(project=project, exclude_session=session_id) if m.id not in seen]
            notes = [m for m in store.notes(project=project, limit=NOTES) if m.id not in seen]
            recent = [m for m in store.recent(project=project, limit=RECENT) if m.session_id != session_id]
        except Exception as exc:  # noqa: BLE001 - a damaged local index leaves the remote half
            if pending is None:
                raise
            _warn(f"SessionStart: the local index failed, oriented from the {config['backend']} store alone: {exc}")
            store = None
    if pending is not None:
        found = fusion.resolve(store, pending.wait(), project=project, skip_session=session_id, skip_ids=seen)
        if pending.error is not None:
            error = recall.as_backend_error(pending.error, config)
            if error.retryable:
                recall.record_failure(config, error)
            if not falls_back:
                raise error
            _warn(
                f"SessionStart: oriented from the local index alone, the {config['backend']} store failed: "
                f"{type(error).__name__}: {error}"
            )
        elsewhere = [memory for _, memory in found.only]
        last = _newest_session(last, elsewhere)
        taken = {m.id for m in last}
        notes = _newest(notes + [m for m in elsewhere if m.role == "note" and m.id not in taken], NOTES)
        recent = _newest(recent + [m for m in elsewhere if m.id not in taken], RECENT)

    sections: list[tuple[str, list[Memory]]] = []
    if last:
        sections.append((f"Last session in this project ({_day(last)}):", _summarise(last)))
    if notes:
        sections.append(("Notes you asked to remember:", notes))
    taken = {m.id for _, items in sections for m in items}
    recent = [m for m in recent if m.id not in seen and m.id not in taken]
    if recent and not last:
        sections.append(("Recent memories for this project:", recent))
    if not sections:
        return "", []
    block, placed = format_context(
        [], budget=memory_cfg["session_start_budget_chars"], title=f"Project: {project}", sections=sections
    )
    if shown is not None:
        recall._placed(shown, placed, (m for _, items in sections for m in items))
    return block, placed


def _remote_recent(backend: Any, config: dict[str, Any], project: str) -> list[Memory]:
    """The remote store's newest memories of the project (and user-wide ones), under the breaker."""
    from mem0_hooks import breaker
    from mem0_hooks.errors import BackendError

    try:
        found = list(backend.recent(project=project, limit=REMOTE_RECENT))
    except BackendError as exc:
        if exc.retryable:
            breaker.record_failure(config["backend"], str(exc), config["mem0"]["breaker_cooldown_seconds"])
        raise
    finally:
        backend.close()
    return found


def _newest_session(local: list[Memory], elsewhere: list[Memory]) -> list[Memory]:
    """The turns of the newer of this machine's last session (``local``, in order) and the newest
    session among the remote-only memories (in turn order, as far as they were read)."""
    sessions: dict[str, list[Memory]] = {}
    for memory in elsewhere:
        if memory.session_id and memory.role in ("user", "assistant"):
            sessions.setdefault(memory.session_id, []).append(memory)
    if not sessions:
        return local
    newest = max(sessions.values(), key=lambda turns: max(t.created_at for t in turns))
    if local and max(t.created_at for t in local) >= max(t.created_at for t in newest):
        return local
    return sorted(newest, key=lambda t: (t.created_at, _seq(t)))


def _seq(memory: Memory) -> int:
    try:
        return int(memory.metadata.get("seq") or 0)
    except (TypeError, ValueError):
        return 0


def _newest(memories: list[Memory], limit: int) -> list[Memory]:
    unique = list({m.id: m for m in memories}.values())
    return sorted(unique, key=lambda m: m.created_at, reverse=True)[:limit]


def _day(turns: list[Memory]) -> str:
    return turns[0].created_at[:10] or "undated"


def _summarise(turns: list[Memory]) -> list[Memory]:
    """The gist of a session without a language model: its user requests and its last reply."""
    users = [t for t in turns if t.role == "user"]
    picked = users[:3] + users[-2:] if len(users) > 5 else users
    last_reply = next((t for t in reversed(turns) if t.role == "assistant"), None)
    out = list({t.id: t for t in picked}.values())
    if last_reply is not None:
        out.append(last_reply)
    return out


def _warn(line: str) -> None:
    from mem0_hooks.log import log

    log(line, level="WARNING")
