"""Vectors for the memories that have none: the warm process for new turns (it holds the model), the
flusher for bigger backlogs (an upgrade, an import, no warm process running), ``mem0-hooks reindex``.

A memory is embedded once (``embedding.Model``), its vector stored beside it with the tokens it was
made of (``LocalStore.add_vectors``), in batches of ``BATCH``, each its own transaction: a kill or a
full disk loses at most the batch under way, nothing stored is touched, and the next run carries on
where that one stopped. Vectors of another model (an upgrade changed the weights) are dropped first and
made again, never mixed (``LocalStore.reset_vectors``).

Nothing here runs in a hook: the hot path only reads vectors (``ranking.semantic``).
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from mem0_hooks.backends.local import LocalStore
    from mem0_hooks.embedding import Model

BATCH = 256


def stamp() -> str:
    """A cheap identity of the installed weights files (sizes and mtimes), to notice an upgrade without
    reading them; "" when the model is not installed."""
    from mem0_hooks import embedding

    try:
        stats = [os.stat(path) for path in embedding.weight_files()]
    except (OSError, embedding.EmbeddingUnavailable):
        return ""
    return embedding.RECIPE + "," + ",".join(f"{st.st_size}:{st.st_mtime_ns}" for st in stats)


def needed(store: LocalStore) -> bool:
    """Whether some memory lacks a vector, or the vectors may be another model's: the weights files or
    the recipe changed since they were made (cheap: no model load)."""
    state = store.vector_state()
    current = stamp()
    if not current:
        return False  # no model installed: nothing to do (doctor says so)
    return state.get("stamp") != current or int(state.get("count") or 0) != store.count()


class Progress:
    """How far a run got: ``done`` of ``total``, and since when (for a rate and an ETA)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None


def index(
    store: LocalStore,
    model: Model | None = None,
    *,
    rebuild: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[Progress], None] | None = None,
) -> Progress:
    """Embed every memory without a vector (all of them with ``rebuild``), batch by batch, until done
    or ``should_stop()``. Raises ``embedding.EmbeddingUnavailable`` or ``errors.BackendError``."""
    from mem0_hooks import embedding

    model = model or embedding.load()
    state = store.vector_state()
    if rebuild or state.get("model", "") != model.id:
        store.reset_vectors(model.id)
    progress = Progress(store.missing_vectors())
    after = 0
    while not (should_stop and should_stop()):
        rows = store.without_vectors(after, BATCH)
        if not rows:
            break
        progress.done += embed_rows(store, model, rows)
        after = rows[-1][0]
        if on_batch is not None:
            on_batch(progress)
    if not store.missing_vectors():
        store.mark_vectors(stamp=stamp())
    return progress


def embed_rows(store: LocalStore, model: Model, rows: list[tuple[int, str, str]]) -> int:
    """Embed and store (rowid, id, text) rows in one transaction; how many were stored."""
    from array import array

    token_lists = model.tokens([text for _, _, text in rows])
    vectors = model.embed(token_lists).astype("<f2")
    entries = [
        (rowid, memory_id, vectors[n].tobytes(), array("H", sorted(set(tokens))).tobytes())
        for n, ((rowid, memory_id, _), tokens) in enumerate(zip(rows, token_lists, strict=True))
    ]
    return store.add_vectors(model.id, entries)


def missing_estimate(store: LocalStore) -> int:
    """About how many memories lack a vector (the count kept with the vectors against the table's)."""
    return max(store.count() - int(store.vector_state().get("count") or 0), 0)
