"""SessionStart: orient Claude in this project (last session, notes, recent memories), once per block."""

from __future__ import annotations

from mem0_hooks import config as config_mod
from mem0_hooks import session
from mem0_hooks.events.runner import after_reply, context_output, text_field
from mem0_hooks.gates import may_recall
from mem0_hooks.project import locate
from mem0_hooks.project_map import settle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENT = "SessionStart"


def session_start(data: dict[str, Any]) -> dict[str, Any] | None:
    """Return the orientation block, unless this session already received the same one.

    Every ``source`` (startup, resume, clear, compact, fork) is handled alike: memories this session
    already had injected are left out, so a resume or a compaction adds only what is new.
    """
    config = config_mod.load()
    if not config["claude_code"]["memory_integration"]:
        return None  # every hook switched off
    session_id = text_field(data, "session_id")
    place = locate(text_field(data, "cwd"))
    project = place.id  # what memories are stored under; opt-outs look at place.root
    after_reply(lambda: _drain_leftovers(config))  # the flusher starts once Claude has its context
    if not may_recall(config, place):
        return None
    settle(place, config)  # a directory seen for the first time: its old memories move to its identity
    if not config["memory"]["recall_on_session_start"]:
        return None
    state = session.load(session_id) if session_id else {}
    from mem0_hooks import orientation

    shown: list[Any] | None = [] if config["memory"]["record_injections"] else None
    block, ids = orientation.for_session_start(
        session_id=session_id, project=project, config=config, state=state, shown=shown
    )
    if not block:
        return None
    import zlib

    digest = f"{zlib.crc32(block.encode('utf-8')):08x}"
    if digest in (state.get("blocks") or []):
        return None
    if session_id:
        state.setdefault("blocks", []).append(digest)
        state.setdefault("injected", []).extend(ids)
        after_reply(lambda: session.save(session_id, state))
    if shown is not None:
        source = text_field(data, "source")
        after_reply(lambda: _record(session_id, project, source, shown, len(block)))
    return context_output(data, EVENT, block)


def _record(session_id: str, project: str, source: str, shown: list[Any], chars: int) -> None:
    """Add the block to the record of injections (``mem0_hooks.injections``), after the answer."""
    from mem0_hooks import injections

    injections.record(EVENT, session_id=session_id, project=project, shown=shown, block_chars=chars, source=source)


def _drain_leftovers(config: dict[str, Any]) -> None:
    """Start the flusher when an earlier outage or crash left items in the queue, when retention is due, or
    when OpenMemory's directory (which project each memory is) should be read again."""
    from mem0_hooks import flush, queue

    if config["backend"] != "none" and (queue.depth() or _retention_due(config) or flush.directory_due(config)):
        flush.spawn()


def _retention_due(config: dict[str, Any]) -> bool:
    """Whether ``privacy.auto_delete_after_days`` went unapplied for an hour: the flusher applies it, and
    without this a user who captures nothing new (paused, or only asking) would keep, and be shown, old
    memories forever."""
    if not config["privacy"]["auto_delete_after_days"]:
        return False
    import time

    from mem0_hooks.flush import read_status

    try:
        last = float(read_status().get("retention_at") or 0.0)
    except (TypeError, ValueError):
        last = 0.0
    return time.time() - last >= 3600
