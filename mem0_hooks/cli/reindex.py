"""``reindex``: embed now the memories that have no vector (all of them with ``--rebuild``), with progress.

The flusher does the same in the background after it stores turns (and for a store that existed before
semantic recall, or after an upgrade changed the model); this command does it by hand and says how far
it is. It takes the queue lock, so the background flusher steps aside meanwhile; killed part way, it
keeps what it stored, and the next run (or the next flush) finishes the job.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from mem0_hooks.cli._common import FatalError, ProgressLine, load_config
from mem0_hooks.config import keeps_local_index


class _Progress(ProgressLine):
    """Reindex's line: done, rate, time left."""

    def update(self, progress: Any) -> None:
        if not self.due():
            return
        eta = progress.eta()
        left = f", ~{eta:.0f}s left" if eta is not None and progress.done < progress.total else ""
        self.show(f"{progress.done:,}/{progress.total:,} embedded, {progress.rate():,.0f}/s{left}")


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
    reporter = _Progress(interval=0.2)
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
