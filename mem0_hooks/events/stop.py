"""Stop: capture the turns that are new since the last capture, then start the flusher and return.

``last_assistant_message`` is the reliable copy of the reply; the transcript adds whatever else is
new (intermediate replies, turns from before install) and supplies the time each turn happened.
"""

from __future__ import annotations

from mem0_hooks import config as config_mod
from mem0_hooks import session
from mem0_hooks.errors import QueueError
from mem0_hooks.events.runner import text_field
from mem0_hooks.gates import may_capture
from mem0_hooks.project import locate
from mem0_hooks.project_map import settle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENT = "Stop"


def capture_new_turns(data: dict[str, Any], *, include_last_message: bool = True) -> int:
    """Enqueue what is new in this session; returns how many items were enqueued."""
    config = config_mod.load()
    if not config["claude_code"]["memory_integration"]:
        return 0
    session_id = text_field(data, "session_id")
    place = locate(text_field(data, "cwd"))
    project = place.id  # what memories are stored under; opt-outs look at place.root
    if not session_id or not may_capture(config, place):
        return 0
    settle(place, config)
    from mem0_hooks.capture import enqueue_items, make_item
    from mem0_hooks.transcript import read_new_turns

    state = session.load(session_id)
    offset = state.get("offset", 0) if isinstance(state.get("offset"), int) else 0
    transcript = text_field(data, "transcript_path")
    turns, new_offset = read_new_turns(transcript, offset) if transcript else ([], offset)
    items = []
    for turn in turns:
        item = make_item(
            text=turn.text,
            role=turn.role,
            session_id=session_id,
            project=project,
            seq=session.next_seq(state),
            created_at=turn.timestamp or None,
            config=config,
        )
        if item is not None:
            items.append(item)
    last = text_field(data, "last_assistant_message") if include_last_message else ""
    if last.strip():
        item = make_item(
            text=last,
            role="assistant",
            session_id=session_id,
            project=project,
            seq=session.next_seq(state),
            config=config,
        )
        if item is not None and all(i["id"] != item["id"] for i in items):
            items.append(item)
    try:
        enqueued = enqueue_items(items, config) if items else 0
    except QueueError as exc:
        # Queue full or disk full: keep the old offset so the transcript is read again next time,
        # and still start the flusher, which is what makes room.
        from mem0_hooks.flush import spawn
        from mem0_hooks.log import log

        log(f"{EVENT}: {len(items)} turn(s) not captured yet: {exc}", level="WARNING")
        spawn()
        return 0
    state["offset"] = new_offset
    session.save(session_id, state)
    if enqueued:
        from mem0_hooks.flush import spawn

        spawn()
    return enqueued


def stop(data: dict[str, Any]) -> dict[str, Any] | None:
    """Capture, never block: Stop output is ignored by Claude Code unless it blocks, and we never do."""
    capture_new_turns(data)
    return None
