"""SessionEnd and PreCompact: the transcript is complete now; capture what Stop may have missed."""

from __future__ import annotations

from typing import Any

from mem0_hooks.events.stop import capture_new_turns


def session_end(data: dict[str, Any]) -> dict[str, Any] | None:
    capture_new_turns(data, include_last_message=False)
    return None


def pre_compact(data: dict[str, Any]) -> dict[str, Any] | None:
    capture_new_turns(data, include_last_message=False)
    return None
