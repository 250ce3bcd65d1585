"""A file-based circuit breaker: after a remote store fails, skip the network for a while.

A hook that waits on a dead server on every prompt makes Claude Code feel broken, so the first failure
opens the breaker for ``mem0.breaker_cooldown_seconds`` (longer when the server sent a longer
``Retry-After``) and every hook process, in every session, sees it through one small JSON file:
``state/breaker-<backend>.json`` in the data dir. When the cooldown has passed the next call tries the
network again; its success closes the breaker, its failure opens it for another cooldown.

Stdlib only and cheap (``is_open`` is one small file read): it runs on the hot path. It never raises on
an I/O error: a breaker that cannot read its file is closed, one that cannot write it stays as it was.
Times in the file are wall-clock (``time.time()``), the only clock shared by processes; a clock that
moved back before the opening time counts as closed, so a clock change cannot keep it open for long.
"""

from __future__ import annotations

import os
import time

from mem0_hooks import fastjson as json
from mem0_hooks import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["is_open", "record_failure", "record_success", "reset", "status"]

_MAX_REASON = 500
_SAME_FAILURE = 2.0  # seconds within which an identical reason is the same failure
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _path(backend: str) -> str:
    return paths.state_file(f"breaker-{''.join(c if c in _SAFE else '_' for c in backend) or 'default'}.json")


def _read(backend: str) -> dict[str, Any]:
    try:
        with open(_path(backend), "rb") as fh:
            data = json.loads(fh.read(65536))
    except Exception:  # noqa: BLE001 - missing, unreadable or garbled: treated as closed
        return {}
    return data if isinstance(data, dict) else {}


def _write(backend: str, state: dict[str, Any]) -> None:
    try:
        paths.write_private_json(_path(backend), state)
    except Exception:  # noqa: BLE001 - the breaker is an optimisation; never fail the caller
        pass


def _number(state: dict[str, Any], key: str) -> float:
    try:
        return float(state.get(key) or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _open_until(state: dict[str, Any], now: float) -> float:
    """When the breaker closes again (0 when closed); a clock that went back past the opening closes it."""
    until = _number(state, "open_until")
    if until <= now or now < _number(state, "opened_at") - 1.0:
        return 0.0
    return until


def is_open(backend: str) -> bool:
    """Whether calls to ``backend`` should skip the network right now."""
    now = time.time()
    return _open_until(_read(backend), now) > now


def record_failure(backend: str, reason: str, cooldown: float, *, retry_after: float | None = None) -> None:
    """Open the breaker for ``cooldown`` seconds, or for ``retry_after`` when the server asked for longer.

    A breaker that is already open for longer stays open that long. ``cooldown`` 0 disables opening
    (the failure is still recorded for ``status``), unless the server itself sent a ``Retry-After``.
    The same ``reason`` recorded again within two seconds is the same failure and is counted once.
    """
    now = time.time()
    state = _read(backend)
    reason = " ".join(str(reason).split())[:_MAX_REASON]
    # The same failure reported twice at once (by a backend and by its caller) counts once.
    repeat = state.get("last_failure") == reason and 0 <= now - _number(state, "last_failure_at") < _SAME_FAILURE
    duration = max(float(cooldown or 0.0), float(retry_after or 0.0), 0.0)
    current = _open_until(state, now)
    if duration > 0 and now + duration > current:
        if not current:
            state["opened_at"] = now
        state["open_until"] = now + duration
    elif not current:
        state["open_until"] = 0.0
    state.update(
        backend=backend,
        failures=int(_number(state, "failures")) + (0 if repeat else 1),
        last_failure=reason,
        last_failure_at=now,
    )
    _write(backend, state)


def record_success(backend: str) -> None:
    """Close the breaker. Writes only when it was open or had failures, so a healthy hot path only reads."""
    state = _read(backend)
    if not state or (not _number(state, "failures") and not _number(state, "open_until")):
        return
    state.update(backend=backend, failures=0, open_until=0.0, opened_at=0.0, closed_at=time.time())
    _write(backend, state)


def reset(backend: str) -> None:
    """Forget everything about ``backend`` (``mem0-hooks status --reset``)."""
    try:
        os.unlink(_path(backend))
    except OSError:
        pass


def _iso(ts: float) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def status(backend: str) -> dict[str, Any]:
    """What ``mem0-hooks status`` shows: open or closed, for how long, and the last failure."""
    state = _read(backend)
    now = time.time()
    until = _open_until(state, now)
    return {
        "backend": backend,
        "state": "open" if until else "closed",
        "open": bool(until),
        "seconds_left": round(until - now, 1) if until else 0.0,
        "open_until": _iso(until),
        "failures": int(_number(state, "failures")),
        "last_failure": state.get("last_failure") or None,
        "reason": state.get("last_failure") or None,  # alias used by ``mem0-hooks status``
        "last_failure_at": _iso(_number(state, "last_failure_at")),
        "closed_at": _iso(_number(state, "closed_at")),
        "file": _path(backend),
    }
