"""``reindex``: embed now the memories that have no vector (all of them with ``--rebuild``), with progress.

The flusher does the same in the background after it stores turns (and for a store that existed before
semantic recall, or after an upgrade changed the model); this command does it by hand and says how far
it is. It takes the queue lock, so the background flusher steps aside meanwhile; killed part way, it
keeps what it stored, and the next run (or the next flush) finishes the job.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from mem0_hooks.cli._common import FatalError, load_config
from mem0_hooks.config import keeps_local_index


class _Progress:
    """One rewritten line on a terminal (stderr): done, rate, ETA. Silent when not a terminal."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.2) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.last = 0.0
        self.shown = False

    def update(self, progress: Any) -> None:
        now = time.monotonic()
        if not self.tty or now - self.last < self.interval:
            return
        self.last = now
        eta = progress.eta()
        left = f", ~{eta:.0f}s left" if eta is not None and progress.done < progress.total else ""
        self.stream.write(f"\r  {progress.done:,}/{progress.total:,} embedded, {progress.rate():,.0f}/s{left}\x1b[K")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def reindex(*, rebuild: bool) -> int:
    from mem0_hooks import embedding, flush, vectors
    from mem0_hooks.backends.local import LocalStore

    config = load_config()
    if not keeps_local_index(config):
        raise FatalError(
            f"mem0.local_index is off: the {config['backend']} store searches by meaning itself; reindex is for "
            "the local index"
        )
    from mem0_hooks.recall import semantic_weight

    if not semantic_weight(config):
        print(
            "semantic recall is off (memory.semantic, memory.semantic_weight or memory.cache_embeddings): "
            "recall is by words only; nothing to embed",
            file=sys.stderr,
        )
        return 0
    try:
        model = embedding.load()
    except embedding.EmbeddingUnavailable as exc:
        raise FatalError(str(exc)) from None
    lock = flush.take_lock()
    store = LocalStore()
    reporter = _Progress()
    try:
        progress = vectors.index(store, model, rebuild=rebuild, on_batch=reporter.update)
    finally:
        reporter.done()
        lock.release()
    total = store.count()
    missing = store.missing_vectors()
    store.close()
    elapsed = time.monotonic() - progress.started
    print(
        f"embedded {progress.done:,} memories in {elapsed:.1f}s ({progress.rate():,.0f}/s); "
        f"{total - missing:,} of {total:,} have a vector ({model.id})"
    )
    return 0 if not missing else 1
