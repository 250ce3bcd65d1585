"""The durable local queue between capture and the store.

One file per item under ``queue/pending/``, named ``<enqueued-ns>-<id>.json`` so names sort in
arrival order. Enqueue writes a private temp file, fsyncs it and renames it into place: the rename is
atomic, so concurrent hooks of many sessions never see or make a half-written item, and need no lock
(the hot path stays free of filelock's import cost). The flusher holds ``flush.lock`` (filelock) while
it reads, rewrites (retry bookkeeping) and removes items, and removes an item only after the store
confirmed it. Items that can never be delivered move to ``queue/dead/`` with the reason, until
``mem0-hooks replay --dead`` moves them back.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterator

from mem0_hooks import paths
from mem0_hooks.errors import QueueError

PENDING = "pending"
DEAD = "dead"
_TMP = "tmp"


def _dir(kind: str) -> str:
    return os.path.join(paths.queue_dir(), kind)


def lock_path() -> str:
    return os.path.join(paths.queue_dir(), "flush.lock")


def _write_atomic(directory: str, name: str, payload: dict[str, Any]) -> None:
    tmp_dir = paths.ensure_private_dir(_dir(_TMP))
    paths.ensure_private_dir(directory)
    tmp = os.path.join(tmp_dir, f"{name}.{os.getpid()}.{time.monotonic_ns()}")
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(directory, name))


def depth(kind: str = PENDING) -> int:
    """How many items are waiting (or dead, with ``kind=DEAD``)."""
    try:
        with os.scandir(_dir(kind)) as it:
            return sum(1 for entry in it if entry.name.endswith(".json"))
    except FileNotFoundError:
        return 0


def enqueue(items: list[dict[str, Any]], *, max_items: int | None = None) -> int:
    """Put items on disk; returns how many were written. Raises QueueError when the disk or the cap refuses."""
    if not items:
        return 0
    pending = _dir(PENDING)
    if max_items is not None:
        waiting = depth(PENDING)
        if waiting + len(items) > max_items:
            raise QueueError(
                f"queue full: {waiting} items pending, cap queue.max_items={max_items}; "
                "new turns are not captured until `mem0-hooks replay` drains it"
            )
    written = 0
    try:
        for item in items:
            record = {"item": item, "attempts": 0, "enqueued_at": time.time()}
            _write_atomic(pending, f"{time.time_ns():020d}-{item['id']}.json", record)
            written += 1
    except OSError as exc:
        raise QueueError(f"cannot write the queue in {pending}: {exc.strerror or exc}") from exc
    return written


def names(kind: str = PENDING) -> list[str]:
    """Item file names in arrival order."""
    try:
        with os.scandir(_dir(kind)) as it:
            return sorted(entry.name for entry in it if entry.name.endswith(".json"))
    except FileNotFoundError:
        return []


class CorruptItem(QueueError):
    """A queue file that cannot be parsed as an item (truncated, not JSON, wrong shape)."""


def read(name: str, kind: str = PENDING) -> dict[str, Any]:
    """The record ``{"item", "attempts", ...}`` stored under ``name``; CorruptItem when unreadable."""
    path = os.path.join(_dir(kind), name)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CorruptItem(f"unreadable: {exc.strerror}") from exc
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptItem(f"not valid JSON ({len(raw)} bytes): {exc}") from exc
    item = record.get("item") if isinstance(record, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("text"), str):
        raise CorruptItem("not a queue item (missing item.id or item.text)")
    return record


def iter_due(now: float | None = None) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """``(name, record, error)`` for each pending item whose retry time has come; record None when corrupt."""
    now = time.time() if now is None else now
    for name in names(PENDING):
        try:
            record = read(name)
        except FileNotFoundError:
            continue
        except CorruptItem as exc:
            yield name, None, str(exc)
            continue
        if record.get("next_attempt_at", 0) <= now:
            yield name, record, None


def next_due_at() -> float | None:
    """The earliest retry time among pending items (None when the queue is empty)."""
    soonest = None
    for name in names(PENDING):
        try:
            due = read(name).get("next_attempt_at", 0)
        except (OSError, QueueError):
            continue
        soonest = due if soonest is None else min(soonest, due)
    return soonest


def ack(name: str) -> None:
    """Remove a delivered item."""
    try:
        os.unlink(os.path.join(_dir(PENDING), name))
    except FileNotFoundError:
        pass


def retry_later(name: str, record: dict[str, Any], error: str, delay: float) -> None:
    """Count a failed attempt and hold the item back for ``delay`` seconds."""
    record = dict(record)
    record["attempts"] = int(record.get("attempts", 0)) + 1
    record["last_error"] = error
    record["next_attempt_at"] = time.time() + delay
    _write_atomic(_dir(PENDING), name, record)


def dead_letter(name: str, record: dict[str, Any] | None, reason: str) -> None:
    """Move an item to the dead-letter area with the reason; a corrupt one keeps its raw bytes."""
    src = os.path.join(_dir(PENDING), name)
    if record is None:
        try:
            with open(src, "rb") as fh:
                raw = fh.read()
        except OSError:
            raw = b""
        record = {"raw": raw.decode("utf-8", "replace")}
    record = dict(record)
    record["dead_reason"] = reason
    record["dead_at"] = time.time()
    _write_atomic(_dir(DEAD), name, record)
    try:
        os.unlink(src)
    except FileNotFoundError:
        pass


def revive_dead() -> int:
    """Move every dead item that still holds an item back to pending, attempts reset; returns the count."""
    revived = 0
    for name in names(DEAD):
        path = os.path.join(_dir(DEAD), name)
        try:
            record = read(name, DEAD)
        except (OSError, QueueError):
            continue  # corrupt items stay dead: there is nothing to deliver
        fresh = {"item": record["item"], "attempts": 0, "enqueued_at": record.get("enqueued_at", time.time())}
        _write_atomic(_dir(PENDING), name, fresh)
        os.unlink(path)
        revived += 1
    return revived


def dead_items() -> list[dict[str, Any]]:
    """Dead-lettered records (with ``dead_reason``), oldest first."""
    out = []
    for name in names(DEAD):
        try:
            with open(os.path.join(_dir(DEAD), name), encoding="utf-8") as fh:
                record = json.load(fh)
        except (OSError, ValueError):
            record = {"dead_reason": "unreadable dead-letter file"}
        record["name"] = name
        out.append(record)
    return out


def expire(older_than: float) -> int:
    """Drop pending and dead items enqueued before ``older_than`` (retention); returns the count."""
    dropped = 0
    for kind in (PENDING, DEAD):
        for name in names(kind):
            try:
                stamp = int(name.split("-", 1)[0]) / 1e9
            except ValueError:
                continue
            if stamp < older_than:
                try:
                    os.unlink(os.path.join(_dir(kind), name))
                    dropped += 1
                except FileNotFoundError:
                    pass
    return dropped
