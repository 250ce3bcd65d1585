"""Moving the local store's memories into a remote store: exactly once, resumable.

The memories are read from the local store in rowid order, a page at a time (no read transaction is
held open while the remote store works), and go through a durable queue of their own
(``<data>/migrate/<backend>/``, see ``queue.use_root``) with ``history.QueueSink``: enqueued a chunk
at a time, then delivered under that queue's flush lock. The hooks keep capturing into the data
dir's queue meanwhile, and their flusher keeps delivering to the configured store: neither touches
the other's items.

Exactly once comes from the delivery ledger (``queue/delivered.sqlite3``, shared with the flusher):
an id it records as delivered to this store (backend, URL, user) is not sent again, and one left in
doubt by a kill is looked up in the store first. So a migration stopped at any point (a kill, the
store going down, a full disk) is resumed by running it again, and a later run sends only the
memories captured since.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from mem0_hooks import paths, queue
from mem0_hooks.errors import BackendError, Mem0HooksError
from mem0_hooks.history import QueueSink, Stopped, Tally

PAGE = 500
REMOTE_BACKENDS = ("platform", "openmemory", "server")


class MigrateError(Mem0HooksError):
    """The migration cannot start: no such target, the target store is not ready."""


def queue_root(backend: str) -> str:
    """Where the migration's own queue lives."""
    return os.path.join(paths.home(), "migrate", backend)


def migrate(
    config: dict[str, Any], to: str, *, progress: Callable[[Tally, int], None] | None = None
) -> tuple[Tally, int]:
    """Send every memory of the local store to the ``to`` store configured in ``config`` (its
    ``mem0`` section and ``user_id``). Returns the tally and the number of local memories; a stop
    (store down, disk full) is in ``tally.stopped``. ``progress(tally, total)`` after each memory."""
    if to not in REMOTE_BACKENDS:
        raise MigrateError(f"--to must name a remote store ({', '.join(REMOTE_BACKENDS)}), not {to!r}")
    tally = Tally()
    tally.source = paths.store_db()
    if not os.path.exists(tally.source):
        tally.missing_source = True
        return tally, 0
    # (No local index beside this delivery, whatever mem0.local_index says: the memories come from the local store.)
    target = dict(config, backend=to, mem0=dict(config["mem0"], local_index=False))
    _check_ready(target)
    from mem0_hooks.backends.local import LocalStore

    store = LocalStore(tally.source)
    previous = queue.root()
    queue.use_root(queue_root(to))
    try:
        total = store.count()
        if progress is not None:
            tally.progress = lambda t: progress(t, total)
        sink = QueueSink(target, tally)
        try:
            try:
                for item in _memories(store):
                    tally.turns += 1
                    sink.put(item)
                    tally.tick()
            finally:
                sink.close()
        except Stopped as exc:
            tally.stopped = str(exc)
    finally:
        queue.use_root(None if previous == paths.queue_dir() else previous)
        store.close()
    return tally, total


def _check_ready(target: dict[str, Any]) -> None:
    """The target answers and takes our key, before anything is queued for it."""
    from mem0_hooks.backends import open_backend

    backend = open_backend(target)
    try:
        backend.health()
    except BackendError as exc:
        raise MigrateError(f"the {target['backend']} store is not ready, nothing was moved: {exc}") from None
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def _memories(store: Any) -> Iterator[dict[str, Any]]:
    """Every memory as a queue item, oldest first, a page at a time."""
    from mem0_hooks import fastjson as json

    last = 0
    while True:
        rows = store.db.execute(
            "SELECT rowid, id, text, role, created_at, session_id, project, scope, seq, metadata FROM memories"
            " WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (last, PAGE),
        ).fetchall()
        if not rows:
            return
        for row in rows:
            try:
                metadata = json.loads(row["metadata"] or "{}")
            except ValueError:
                metadata = {}
            yield {
                "id": row["id"],
                "text": row["text"],
                "role": row["role"],
                "created_at": row["created_at"],
                "session_id": row["session_id"],
                "project": row["project"],
                "scope": row["scope"],
                "seq": row["seq"],
                "metadata": metadata if isinstance(metadata, dict) else {},
            }
        last = rows[-1]["rowid"]
