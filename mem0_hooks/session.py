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


# What this process last saved, per session file: (the file's identity after the write, the state).
# The warm process serves a session's hooks one after another, so it mostly reads back what it wrote
# itself, and a long session's state (up to ``_MAX_INJECTED`` ids) costs a millisecond to parse.
_SAVED: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
_SAVED_SESSIONS = 16


def load(session_id: str) -> dict[str, Any]:
    """The saved state of a session ({} when new or unreadable)."""
    path = _path(session_id)
    try:
        kept = _SAVED.get(path)
        if kept is not None and kept[0] == _identity(path):
            return _copy(kept[1])  # the file is as this process wrote it
        with open(path, encoding="utf-8") as fh:
            state = json.load(fh)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def save(session_id: str, state: dict[str, Any]) -> None:
    """Write the state atomically (0600)."""
    injected = state.get("injected")
    if isinstance(injected, list) and len(injected) > _MAX_INJECTED:
        state["injected"] = injected[-_MAX_INJECTED:]
    path = _path(session_id)
    _SAVED.pop(path, None)
    written = paths.write_private_json(path, state)
    if len(_SAVED) >= _SAVED_SESSIONS:
        _SAVED.clear()
    _SAVED[path] = (_key(written), _copy(state))


def _identity(path: str) -> tuple[int, int, int]:
    return _key(os.stat(path))


def _key(st: os.stat_result) -> tuple[int, int, int]:
    """Changes whenever the file is written: each save replaces it (a new inode), and a size or mtime
    change catches anyone writing it in place."""
    return st.st_ino, st.st_mtime_ns, st.st_size


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    """A copy the caller may change without changing the kept one (values are numbers, strings and
    lists of strings)."""
    return {k: list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v for k, v in state.items()}


def next_seq(state: dict[str, Any]) -> int:
    """The next turn number of the session (stored back into ``state``)."""
    seq = int(state.get("seq", 0)) + 1
    state["seq"] = seq
    return seq
