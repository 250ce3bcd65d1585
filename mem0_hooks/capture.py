"""Turning what was said into queue items: scrubbed of secrets, with stable ids, then enqueued."""

from __future__ import annotations

import time

from mem0_hooks import queue
from mem0_hooks.redact import scrub

try:
    # The interpreter's own SHA-256 (the same digest as hashlib's): ``hashlib`` first loads OpenSSL, which
    # costs a hook several milliseconds on every prompt. ``_sha2`` from Python 3.12, ``_sha256`` before.
    from _sha2 import sha256
except ImportError:
    try:
        from _sha256 import sha256
    except ImportError:  # pragma: no cover - a build without them
        from hashlib import sha256

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def item_id(session_id: str, role: str, text: str) -> str:
    """The same turn of the same session always gets the same id (this is what makes delivery idempotent)."""
    digest = sha256(f"{session_id}\0{role}\0{' '.join(text.split())}".encode("utf-8", "replace"))
    return digest.hexdigest()[:32]


def make_item(
    *,
    text: str,
    role: str,
    session_id: str,
    project: str,
    seq: int,
    created_at: str | None = None,
    scope: str = "project",
    config: dict[str, Any],
) -> dict[str, Any] | None:
    """A queue item for one turn, or None when nothing is left after scrubbing."""
    clean = scrub(text, config["privacy"]["redact_patterns"]).strip()
    if not clean:
        return None
    return {
        "id": item_id(session_id, role, clean),
        "text": clean,
        "role": role,
        "created_at": created_at or utc_now(),
        "session_id": session_id,
        "project": project,
        "scope": scope,
        "seq": seq,
        "metadata": {},
    }


def enqueue_items(items: list[dict[str, Any]], config: dict[str, Any], *, sync: bool = True) -> int:
    """Write items to the queue (QueueError when the disk or the cap refuses); ``sync`` as for
    ``queue.enqueue``."""
    return queue.enqueue(items, max_items=config["queue"]["max_items"], sync=sync)


def note(text: str, *, project: str, user_wide: bool, config: dict[str, Any]) -> dict[str, Any] | None:
    """Remember ``text`` on purpose (``mem0-hooks add``, the ``add_memories`` tool): scrubbed and
    enqueued as a ``note`` like any captured turn, so the flusher delivers it exactly once. Returns the
    queued item, or None when nothing was left after scrubbing. The same text gets the same id."""
    item = make_item(
        text=text,
        role="note",
        session_id="",
        project="" if user_wide else project,
        seq=0,
        scope="user" if user_wide else "project",
        config=config,
    )
    if item is not None:
        enqueue_items([item], config)
    return item
