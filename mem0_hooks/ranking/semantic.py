"""Ranking by meaning: how close a project's memories are to the prompt, by their vectors.

Only in a process that has loaded the embedding model (the warm process, the CLI, the MCP server):
``similar`` returns None anywhere else, and recall is by words alone, as it is until the store's
vectors are made (``mem0_hooks.vectors``). numpy is imported only where the model was loaded.

A project's vectors (and the user-wide ones) are read from the store once and kept for the life of the
process; each search reads only the vectors stored since, and all of them again after a forget (the
store's vector generation changed) or when the vectors are another model's. The prompt's vector weighs
each of its tokens by its IDF among the stored vectors (``embedding.Model.query_vector``).

A search reads as little as it can: the closest memories are found on a slice of each vector, the
first ``COARSE_DIMS`` of both tables (their main directions come first), kept as float32, and the
``POOL`` best by that are scored exactly from the full vectors (float16, half the memory). A turn's
closeness is scored exactly when it is asked for, and the project's mean closeness and its spread come
from running sums (``_Matrix.moments``), so no search touches every full vector: at 100,000 memories
in one project, about 1.5 ms and 100 MB, where the whole matrix in float32 took 5 ms and 150 MB.

Closeness token by token (``token_closeness``): a text's vector is the mean of its tokens, which blurs a
turn about many things. For the few turns a block leads with, each prompt token's closest token in the
turn counts too (its cosine, the prompt token weighed by its IDF), on MiniLM's table of word pieces.
"""

from __future__ import annotations

import math
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    import numpy as np

    from mem0_hooks.backends.local import LocalStore
    from mem0_hooks.embedding import Model

KEPT_MATRICES = 3  # projects whose vectors a process keeps in memory (about 1.2 KB a memory)
# A prompt's closeness to a project's memories: mean 0.28, spread 0.065, on both development sets (devmem
# crowded 0.281 / 0.063, LoCoMo 0.280 / 0.067, each nearly the same for every prompt). A small store's own
# figures are weighed against these as if they came from PRIOR_MEMORIES memories: a store of one memory
# still knows what "close" means.
PRIOR_MEAN, PRIOR_SPREAD, PRIOR_MEMORIES = 0.28, 0.065, 10
COARSE_DIMS = (64, 32)  # dimensions of each table (WordLlama's, MiniLM's) in the first pass
POOL = 400  # memories the first pass hands to the exact scoring (at least 10 a memory asked for)
TOKEN_TABLE = 1  # the table closeness token by token uses (MiniLM's: word pieces match across inflections)
TOKEN_LIMIT = 256  # the words of a long turn that count
WORDS_CACHED = 65536  # words whose tokens are kept between searches (a project's vocabulary)


class Similar:
    """The prompt's closeness to a project's memories: ``of(rowids)``, ``best(count)``, and the project's
    mean closeness and its spread."""

    __slots__ = ("matrix", "query", "coarse_query", "mean", "spread", "tokens", "weights")

    def __init__(
        self,
        matrix: _Matrix,
        query: np.ndarray,
        tokens: list[int] | None = None,
        weights: dict[int, float] | None = None,
    ) -> None:
        self.matrix = matrix
        self.query = query
        self.tokens = tokens or []  # the prompt's tokens, as its vector was made of them
        self.weights = weights or {}  # {token: its IDF among the stored vectors}
        self.coarse_query = query[matrix.coarse_columns]
        self.mean, self.spread = matrix.moments(query)

    def of(self, rowids: Iterable[int]) -> dict[int, float]:
        """{rowid: closeness} for those of ``rowids`` that have a vector."""
        import numpy as np

        position = self.matrix.position
        found = [(rowid, at) for rowid in rowids if (at := position.get(rowid)) is not None]
        if not found:
            return {}
        rows = self.matrix.full[np.fromiter((at for _, at in found), dtype=np.int64, count=len(found))]
        scores = rows.astype(np.float32) @ self.query
        return {rowid: float(score) for (rowid, _), score in zip(found, scores, strict=True)}

    def best(self, count: int) -> list[int]:
        """The rowids of the ``count`` closest memories, closest first."""
        import numpy as np

        matrix = self.matrix
        n = matrix.size
        if not n or count <= 0:
            return []
        coarse = matrix.coarse[:n] @ self.coarse_query
        pool = min(max(POOL, 10 * count), n)
        picked = np.argpartition(-coarse, pool - 1)[:pool] if pool < n else np.arange(n)
        exact = matrix.full[picked].astype(np.float32) @ self.query
        order = np.argsort(-exact, kind="stable")[: min(count, n)]
        return [int(matrix.ids[picked[i]]) for i in order]


class _Matrix:
    """One project's vectors as read so far, in buffers with room to grow (a search that brings a few new
    vectors appends them in place instead of copying the matrix)."""

    __slots__ = (
        "model",
        "generation",
        "last",
        "size",
        "ids",
        "full",
        "coarse",
        "coarse_columns",
        "position",
        "total",
        "second",
    )

    def __init__(self, model: str, generation: str) -> None:
        import numpy as np

        self.model = model
        self.generation = generation
        self.last = 0
        self.size = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self.full = np.zeros((0, 0), dtype=np.float16)  # every dimension, as stored
        self.coarse = np.zeros((0, 0), dtype=np.float32)  # the first pass's dimensions
        self.coarse_columns = np.zeros(0, dtype=np.int64)
        self.position: dict[int, int] = {}
        # The sum of the vectors and of their outer products: a prompt's mean closeness and its spread
        # come from these in O(dimensions^2), whatever the number of memories.
        self.total: np.ndarray | None = None
        self.second: np.ndarray | None = None

    def moments(self, vector: np.ndarray) -> tuple[float, float]:
        """The mean and standard deviation of ``vector``'s closeness to every row, with the prior
        (``PRIOR_MEAN``...) weighed in: it only matters for a store of a few dozen memories."""
        n, k = self.size, PRIOR_MEMORIES
        if not n or self.total is None or self.second is None:
            return PRIOR_MEAN, PRIOR_SPREAD
        query = vector.astype("float64")
        mean = float(query @ self.total) / n
        variance = max(float(query @ (self.second @ query)) / n - mean * mean, 0.0)
        return (n * mean + k * PRIOR_MEAN) / (n + k), ((n * variance + k * PRIOR_SPREAD**2) / (n + k)) ** 0.5

    def extend(self, rows: list[tuple[int, bytes]]) -> None:
        import numpy as np

        if not rows:
            return
        new = np.frombuffer(b"".join(vector for _, vector in rows), dtype="<f2").reshape(len(rows), -1)
        dims = new.shape[1]
        start, end = self.size, self.size + len(rows)
        if end > len(self.ids) or dims != self.full.shape[1]:
            if dims != self.full.shape[1]:
                from mem0_hooks.embedding import table_columns

                self.coarse_columns = np.concatenate(
                    [np.arange(first, first + width) for first, width in table_columns(dims, COARSE_DIMS)]
                )
            capacity = max(end + 1024, len(self.ids) + len(self.ids) // 4)
            ids = np.zeros(capacity, dtype=np.int64)
            full = np.zeros((capacity, dims), dtype=np.float16)
            coarse = np.zeros((capacity, len(self.coarse_columns)), dtype=np.float32)
            if start:
                ids[:start], full[:start], coarse[:start] = self.ids[:start], self.full[:start], self.coarse[:start]
            self.ids, self.full, self.coarse = ids, full, coarse
        self.ids[start:end] = [rowid for rowid, _ in rows]
        self.full[start:end] = new
        self.coarse[start:end] = new[:, self.coarse_columns]
        wide = new.astype(np.float64)
        if self.total is None or self.second is None or self.total.shape[0] != dims:
            self.total = np.zeros(dims)
            self.second = np.zeros((dims, dims))
        self.total += wide.sum(axis=0)
        self.second += wide.T @ wide
        self.position.update((rowid, start + n) for n, (rowid, _) in enumerate(rows))
        self.size = end
        self.last = rows[-1][0]


_MATRICES: dict[tuple[Any, ...], _Matrix] = {}


def similar(store: LocalStore, query: str, project: str) -> Similar | None:
    """How close the memories of ``project`` (and the user-wide ones) are to ``query``; None when this
    process has no model loaded, the store has no vectors of that model, or the prompt weighs nothing."""
    from mem0_hooks import embedding

    model = embedding.loaded()
    if model is None:
        return None
    state = store.vector_state()
    if state.get("model") != model.id or not int(state.get("count") or 0):
        return None  # not embedded yet (or by another model): by words only until the flusher has
    matrix = _matrix(store, project, model.id, state.get("generation", ""))
    if not matrix.size:
        return None
    total = int(state.get("count") or 0)

    prompt: list[int] = []
    weights: dict[int, float] = {}

    def idf(tokens: list[int]) -> dict[int, float]:
        prompt.extend(tokens)  # (kept for closeness token by token: the prompt is tokenised once)
        counts = store.token_counts(tokens)
        weights.update((t, math.log(1.0 + total / (1.0 + counts.get(t, 0)))) for t in tokens)
        return weights

    vector = model.query_vector(query, idf)
    if vector is None:
        return None
    return Similar(matrix, vector, prompt, weights)


def _matrix(store: LocalStore, project: str, model_id: str, generation: str) -> _Matrix:
    """``project``'s matrix, brought up to date with what the store holds now."""
    try:
        st = os.stat(store.path)
        key: tuple[Any, ...] = (store.path, st.st_dev, st.st_ino, project)
    except OSError:
        key = (store.path, project)
    matrix = _MATRICES.get(key)
    if matrix is None or matrix.model != model_id or matrix.generation != generation:
        if matrix is None and len(_MATRICES) >= KEPT_MATRICES:
            _MATRICES.pop(next(iter(_MATRICES)))
        matrix = _Matrix(model_id, generation)
        _MATRICES[key] = matrix
    matrix.extend(store.vectors_after(project, matrix.last))
    return matrix


_WORD_TOKENS: dict[str, list[int]] = {}  # word -> its word pieces' rows in TOKEN_TABLE
_UNIT_TABLE: list[Any] = []  # [model id, the table's rows as unit vectors (float32)]


def token_closeness(similar: Similar, words_of: dict[int, tuple[str, ...]]) -> dict[int, float]:
    """{rowid: how closely the turn's tokens cover the prompt's} for the turns of ``words_of`` ({rowid:
    its words, as lexical scoring split them}): each prompt token's closest token in the turn (cosine),
    averaged with the prompt's tokens (``similar.tokens``) weighed by their IDF. Empty where no model
    is loaded. A turn's tokens are its words' (each word tokenised once per process: a turn is not)."""
    from mem0_hooks import embedding

    model = embedding.loaded()
    if model is None or not words_of:
        return {}
    import numpy as np

    table = model.tables[TOKEN_TABLE]
    prompt = [i for i in similar.tokens if _in_table(model, i)]
    weights = np.array([similar.weights.get(i, 0.0) for i in prompt], dtype=np.float32)
    if not prompt or not weights.any():
        return {}
    unit = _unit_table(model)
    order = list(words_of)
    tokens = [_tokens_of(model, words_of[rowid]) for rowid in order]
    lengths = np.array([len(t) for t in tokens])
    if not lengths.any():
        return {}
    similarity = unit[[i - table.offset for i in prompt]] @ unit[np.concatenate(tokens)].T
    has = lengths > 0
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[has]
    closest = np.zeros((len(prompt), len(order)), dtype=np.float32)
    closest[:, has] = np.maximum.reduceat(similarity, starts, axis=1)
    covered = (weights @ closest) / float(weights.sum())
    return {rowid: float(value) for rowid, value in zip(order, covered, strict=True)}


def _in_table(model: Model, token: int) -> bool:
    table = model.tables[TOKEN_TABLE]
    return table.offset <= token < table.offset + table.vectors.shape[0]


def _unit_table(model: Model) -> np.ndarray:
    """The token table's rows scaled to unit length (float32), made once per model (about 16 MB)."""
    if not _UNIT_TABLE or _UNIT_TABLE[0] != model.id:
        import numpy as np

        vectors = model.tables[TOKEN_TABLE].vectors.astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
        _UNIT_TABLE[:] = [model.id, vectors]
    return _UNIT_TABLE[1]


def _tokens_of(model: Model, words: tuple[str, ...]) -> np.ndarray:
    """The rows in the token table of ``words``' word pieces, each word tokenised once per process."""
    import numpy as np

    known = _WORD_TOKENS
    missing = [w for w in dict.fromkeys(words[:TOKEN_LIMIT]) if w not in known]
    if missing:
        if len(known) + len(missing) > WORDS_CACHED:
            known.clear()
        for word, ids in zip(missing, model.tables[TOKEN_TABLE].tokens(missing, 16), strict=True):
            known[word] = ids
    return np.fromiter((i for w in words[:TOKEN_LIMIT] for i in known[w]), dtype=np.int64)
