"""Per-session state kept between hook runs: transcript offset, turn counter, what was injected."""

from __future__ import annotations

import os

from mem0_hooks import fastjson as json
from mem0_hooks import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Characters kept in a session file name; every other one becomes "_" (a str loop, not ``re``: hot path).
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_INJECTED = 2000


def _path(session_id: str) -> str:
    name = "".join(c if c in _SAFE else "_" for c in session_id)[:128] or "unknown"
    return os.path.join(paths.sessions_dir(), name + ".json")


def load(session_id: str) -> dict[str, Any]:
    """The saved state of a session ({} when new or unreadable)."""
    try:
        with open(_path(session_id), encoding="utf-8") as fh:
            state = json.load(fh)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def save(session_id: str, state: dict[str, Any]) -> None:
    """Write the state atomically (0600)."""
    injected = state.get("injected")
    if isinstance(injected, list) and len(injected) > _MAX_INJECTED:
        state["injected"] = injected[-_MAX_INJECTED:]
    paths.write_private_json(_path(session_id), state)


def next_seq(state: dict[str, Any]) -> int:
    """The next turn number of the session (stored back into ``state``)."""
    seq = int(state.get("seq", 0)) + 1
    state["seq"] = seq
    return seq
