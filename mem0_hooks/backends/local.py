"""The embedded store: SQLite with FTS5 (BM25, Porter stemming) in the data dir. The default backend.

One row per turn. WAL lets many sessions read while one flusher writes; a stored id is never stored
twice (``INSERT OR IGNORE`` on the id), which is what makes queue redelivery harmless. Schema changes
are numbered migrations recorded in ``PRAGMA user_version`` and the ``migrations`` table.

The full-text index has three columns: the turn's ``text``; its ``context``, the text of the turns just
before and after it in its session (so a turn is found by the question that was put to it); and a
``scope`` token (a checksum of the project, or ``0`` for user-wide memories) that lets FTS5 itself
restrict a search to one project instead of ranking every project's matches and filtering after.

Ranking lives in ``mem0_hooks.ranking`` (``ranking.turns.search_turns`` says how a prompt becomes
ranked turns); this module gives it the reads it needs (``ranked_matches``, ``seq_runs``...) and
nothing here decides what is relevant.
"""

from __future__ import annotations

import os
import sqlite3
import time
import zlib

from mem0_hooks import paths
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.errors import BackendUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable
    from typing import Any

    from mem0_hooks.ranking.fusion import Remote
    from mem0_hooks.ranking.turns import Found

    Migration = list[str] | Callable[[sqlite3.Connection], None]
    Row = tuple[Any, ...]  # a row of FIELDS, as a search reads it (plain tuples: cheaper than sqlite3.Row)

__all__ = ["LocalStore", "memory_of", "scope_token", "text_key"]

TOKENIZER = "porter unicode61 remove_diacritics 2"

DEEP_OFFSET = 500  # ``list`` past this many memories of a project finds its page through the index
TIDY_SEGMENTS = 8  # ``tidy`` rewrites the full-text index as one segment when merging leaves more than this
WAL_KEPT_BYTES = 4 * 1024 * 1024  # the WAL file is cut back to this after a checkpoint

# What every read of memories selects, in this order: ``memory_of`` and the search read a row by position
# (a search reads plain tuples, cheaper to make and to index than ``sqlite3.Row``).
FIELDS = ("rowid", "id", "text", "role", "created_at", "session_id", "project", "scope", "seq", "metadata")
ROWID, ID, TEXT, ROLE, CREATED_AT, SESSION_ID, PROJECT, SCOPE, SEQ, METADATA = range(len(FIELDS))
COLUMNS = ", ".join(FIELDS)
JOINED_COLUMNS = ", ".join(f"m.{field}" for field in FIELDS)  # the same, from ``memories m`` in a join


def scope_token(project: str, scope: str = "project") -> str:
    """The index token of a memory's scope: ``0`` for user-wide ones, else a checksum of the project.

    Digits only, so the Porter stemmer leaves it alone; a checksum collision only adds candidates that
    the exact ``project`` comparison then drops.
    """
    if scope == "user":
        return "0"
    return f"1{zlib.crc32(project.encode('utf-8', 'surrogatepass')):010d}"


# Numbered migrations, applied in one transaction on open: a list of statements, or a function for
# what needs Python. (Statements, not executescript: executescript would commit the transaction.)
M001_INITIAL = [
    """CREATE TABLE memories (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        text TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        session_id TEXT NOT NULL DEFAULT '',
        project TEXT NOT NULL DEFAULT '',
        scope TEXT NOT NULL DEFAULT 'project',
        seq INTEGER NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL DEFAULT '{}',
        added_at REAL NOT NULL
    )""",
    "CREATE INDEX memories_project_created ON memories (project, created_at)",
    "CREATE INDEX memories_session_seq ON memories (session_id, seq)",
    "CREATE INDEX memories_scope ON memories (scope)",
    f"CREATE VIRTUAL TABLE memories_fts USING fts5 (text, context, tokenize = '{TOKENIZER}')",
]


def m002_scope_column(db: sqlite3.Connection) -> None:
    """Rebuild the index with a ``scope`` column, so a search is restricted to one project inside FTS5."""
    db.create_function("mem0_scope_token", 2, scope_token, deterministic=True)
    db.execute(f"CREATE VIRTUAL TABLE memories_fts_v2 USING fts5 (text, context, scope, tokenize = '{TOKENIZER}')")
    db.execute(
        "INSERT INTO memories_fts_v2 (rowid, text, context, scope)"
        " SELECT f.rowid, f.text, f.context, mem0_scope_token(m.project, m.scope)"
        " FROM memories_fts f JOIN memories m ON m.rowid = f.rowid"
    )
    db.execute("DROP TABLE memories_fts")
    db.execute("ALTER TABLE memories_fts_v2 RENAME TO memories_fts")


# Notes (``mem0-hooks add``) are read at every session start: without this, by a scan of every memory.
M003_NOTES_INDEX = ["CREATE INDEX IF NOT EXISTS memories_role_created ON memories (role, created_at)"]

# Every search reads the first turns of the project's newest sessions: without this, by walking the
# project's memories newest first until enough of them are openings. (A query must say ``seq = 1``
# literally for SQLite to use it.)
M004_OPENINGS_INDEX = ["CREATE INDEX IF NOT EXISTS memories_openings ON memories (project, created_at) WHERE seq = 1"]

# Semantic recall (``mem0_hooks.embedding``, ``ranking.semantic``): one vector per memory, keyed by its
# rowid, with the distinct tokens it was made of (so a forget can take them out of ``vector_tokens``,
# the per-token counts a prompt's IDF weights come from). ``store_meta`` says which model made the
# vectors (vectors of two models are never mixed: another model means a reindex), how many there are,
# and a generation that every forget raises (a process that keeps vectors in memory reloads them).
M005_VECTORS = [
    "CREATE TABLE IF NOT EXISTS vectors (rowid INTEGER PRIMARY KEY, vector BLOB NOT NULL, tokens BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vector_tokens (token INTEGER PRIMARY KEY, df INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]


def text_key(text: str) -> int:
    """A checksum of ``text`` with its whitespace collapsed and its case folded: how a memory that another
    store gives back (a remote store keeps the text as sent, under its own id) is found here. A checksum
    collision only makes a candidate that the comparison of the texts then drops."""
    return zlib.crc32(" ".join(text.split()).casefold().encode("utf-8", "surrogatepass"))


def m006_text_keys(db: sqlite3.Connection) -> None:
    """Give every memory its ``text_key``, indexed: the hybrid store matches a remote store's hits that
    carry no id of ours (OpenMemory's search answers text alone) to the turns it holds."""
    db.create_function("mem0_text_key", 1, text_key, deterministic=True)
    db.execute("ALTER TABLE memories ADD COLUMN text_key INTEGER")
    db.execute("UPDATE memories SET text_key = mem0_text_key(text)")
    db.execute("CREATE INDEX memories_text_key ON memories (text_key)")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("m001_initial", M001_INITIAL),
    ("m002_scope_column", m002_scope_column),
    ("m003_notes_index", M003_NOTES_INDEX),
    ("m004_openings_index", M004_OPENINGS_INDEX),
    ("m005_vectors", M005_VECTORS),
    ("m006_text_keys", m006_text_keys),
]


class LocalStore:
    """SQLite + FTS5 store at ``path`` (default: ``memories.sqlite3`` in the data dir)."""

    name = "local"

    def __init__(self, path: str | None = None, *, timeout: float = 5.0) -> None:
        self.path = path or paths.store_db()
        self._timeout = timeout
        self._db: sqlite3.Connection | None = None

    # -- connection --------------------------------------------------------------------------------
    @property
    def timeout(self) -> float:
        """Seconds a statement waits for another writer's lock before failing."""
        return self._timeout

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        try:
            fresh = not os.path.exists(self.path)
            if fresh:
                paths.ensure_private_dir(os.path.dirname(self.path) or ".")
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA secure_delete = ON")  # forgotten text is overwritten, not left in free pages
            # A big write (a merge of the index, a long backlog) grows the WAL; the WAL is reused, not
            # shrunk, unless told: back to at most this much once it has been copied into the store.
            db.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < len(MIGRATIONS):
                self._migrate(db, version)
            return db
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store {self.path} cannot be opened: {exc}") from exc

    def _migrate(self, db: sqlite3.Connection, version: int) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            for number, (name, migration) in enumerate(MIGRATIONS[version:], start=version + 1):
                if callable(migration):
                    migration(db)
                else:
                    for statement in migration:
                        db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
                db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- writes ------------------------------------------------------------------------------------
    def add(self, items: list[MemoryItem]) -> None:
        """Store items in one transaction; ids already stored are skipped."""
        if not items:
            return
        db = self.db
        now = time.time()
        try:
            db.execute("BEGIN IMMEDIATE")
            new: dict[int, MemoryItem] = {}
            for item in items:
                cur = db.execute(
                    "INSERT OR IGNORE INTO memories (id, text, role, created_at, session_id, project, scope, seq,"
                    " metadata, added_at, text_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.id,
                        item.text,
                        item.role,
                        item.created_at,
                        item.session_id,
                        item.project,
                        item.scope,
                        item.seq,
                        _dumps(item.metadata or {}),
                        now,
                        text_key(item.text),
                    ),
                )
                if cur.rowcount:
                    new[int(cur.lastrowid or 0)] = item
            self._index(db, new)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise BackendUnavailable(f"local store write failed: {exc}") from exc

    def _index(self, db: sqlite3.Connection, new: dict[int, MemoryItem]) -> None:
        """Index the turns just stored (``{rowid: item}``), each with its neighbours' text as context,
        and refresh the context of the turns stored earlier next to them.

        Row by row in rowid order: FTS5 writes what it holds as a new index segment whenever a row
        comes before one it already has, so refreshing each neighbour as its new turn came would leave
        the index in a dozen more pieces after every flush (see ``tidy``).
        """
        touched = set(new)
        contexts: dict[int, str] = {}
        for rowid, item in new.items():
            if item.session_id:
                sides = [r for r in _adjacent(db, item.session_id, item.seq, rowid) if r is not None]
                touched.update(r["rowid"] for r in sides)
                contexts[rowid] = _context(sides)
        for rowid in sorted(touched):
            item = new.get(rowid)
            if item is None:
                self._refresh_context(db, [rowid])
                continue
            db.execute(
                "INSERT INTO memories_fts (rowid, text, context, scope) VALUES (?, ?, ?, ?)",
                (rowid, item.text, contexts.get(rowid, ""), scope_token(item.project, item.scope)),
            )

    def _refresh_context(self, db: sqlite3.Connection, rowids: list[int]) -> None:
        """Set each row's context to the text of the turns now just before and after it."""
        for rowid in rowids:
            row = db.execute("SELECT session_id, seq FROM memories WHERE rowid = ?", (rowid,)).fetchone()
            if row is None or not row["session_id"]:
                continue
            context = _context(_adjacent(db, row["session_id"], row["seq"], rowid))
            db.execute("UPDATE memories_fts SET context = ? WHERE rowid = ?", (context, rowid))

    def _delete_rows(self, db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> int:
        """Delete the rows matching ``where`` (inside the caller's transaction) and fix their
        neighbours' context, so no trace of a forgotten turn stays in the index."""
        doomed = db.execute(f"SELECT rowid, session_id, seq FROM memories WHERE {where}", args).fetchall()
        if not doomed:
            return 0
        gone = {r["rowid"] for r in doomed}
        touched: set[int] = set()
        for row in doomed:
            if not row["session_id"]:
                continue
            for side in _adjacent(db, row["session_id"], row["seq"], row["rowid"], skip=gone):
                if side is not None:
                    touched.add(side["rowid"])
        for chunk in _chunks(sorted(gone), 500):
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM memories_fts WHERE rowid IN ({marks})", chunk)
            db.execute(f"DELETE FROM memories WHERE rowid IN ({marks})", chunk)
        self._delete_vectors(db, sorted(gone))
        self._refresh_context(db, sorted(touched - gone))
        # FTS5 deletes by adding tombstones; merging every segment is what drops the old terms.
        db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('optimize')")
        return len(gone)

    def _truncate_wal(self, db: sqlite3.Connection) -> None:
        """After a forget: copy the overwritten pages into the database file and empty the WAL, so the
        forgotten text is not left in it (best effort: a reader still open elsewhere can hold the
        checkpoint back; the next one completes it)."""
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass

    def _forget(self, where: str, args: tuple[Any, ...]) -> int:
        """Forget the memories matching ``where`` in one write transaction, then scrub the file."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if where:
                count = self._delete_rows(db, where, args)
            else:  # everything: no neighbour bookkeeping needed, so drop the tables' rows wholesale
                count = db.execute("SELECT count(*) FROM memories").fetchone()[0]
                db.execute("DELETE FROM memories_fts")
                db.execute("DELETE FROM memories")
                db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('optimize')")
                self._clear_vectors(db, self.vector_state().get("model", ""))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        if count:
            self._truncate_wal(db)
        return int(count)

    # -- vectors (semantic recall) -------------------------------------------------------------------
    def vector_state(self) -> dict[str, str]:
        """``model`` (which made the vectors, "" for none yet), ``count`` and ``generation`` (raised by
        every forget), as strings."""
        return {key: value for key, value in self.db.execute("SELECT key, value FROM store_meta")}

    def _set_meta(self, db: sqlite3.Connection, **values: object) -> None:
        db.executemany(
            "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(key, str(value)) for key, value in values.items()],
        )

    def _clear_vectors(self, db: sqlite3.Connection, model_id: str) -> None:
        """Inside the caller's transaction: no vector is left, and those to come are ``model_id``'s."""
        db.execute("DELETE FROM vectors")
        db.execute("DELETE FROM vector_tokens")
        generation = int(self.vector_state().get("generation") or 0) + 1
        self._set_meta(db, model=model_id, count=0, generation=generation)

    def _delete_vectors(self, db: sqlite3.Connection, rowids: list[int]) -> None:
        """Inside the caller's transaction: the vectors of forgotten rows, and their tokens' counts."""
        from array import array

        removed = 0
        for chunk in _chunks(rowids, 500):
            marks = ",".join("?" * len(chunk))
            doomed = db.execute(f"SELECT tokens FROM vectors WHERE rowid IN ({marks})", chunk).fetchall()
            if not doomed:
                continue
            counts: dict[int, int] = {}
            for (blob,) in doomed:
                tokens = array("H")
                tokens.frombytes(blob)
                for token in tokens:
                    counts[token] = counts.get(token, 0) + 1
            db.executemany(
                "UPDATE vector_tokens SET df = max(df - ?, 0) WHERE token = ?", [(n, t) for t, n in counts.items()]
            )
            db.execute(f"DELETE FROM vectors WHERE rowid IN ({marks})", chunk)
            removed += len(doomed)
        state = self.vector_state()
        count = max(int(state.get("count") or 0) - removed, 0)
        self._set_meta(db, count=count, generation=int(state.get("generation") or 0) + 1)

    def reset_vectors(self, model_id: str) -> None:
        """Drop every vector: those to come are ``model_id``'s (another model's are never mixed in)."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._clear_vectors(db, model_id)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store write failed: {exc}") from exc

    def mark_vectors(self, **values: object) -> None:
        """Record facts about the vectors in ``store_meta`` (e.g. the stamp of the weights they came from)."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            self._set_meta(db, **values)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise BackendUnavailable(f"local store write failed: {exc}") from exc

    def without_vectors(self, after_rowid: int, limit: int) -> list[tuple[int, str, str]]:
        """(rowid, id, text) of up to ``limit`` memories past ``after_rowid`` that have no vector yet."""
        return self.db.execute(
            "SELECT m.rowid, m.id, m.text FROM memories m WHERE m.rowid > ?"
            " AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.rowid = m.rowid) ORDER BY m.rowid LIMIT ?",
            (after_rowid, limit),
        ).fetchall()

    def missing_vectors(self) -> int:
        """How many memories have no vector (of the model the store's vectors are from)."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.rowid = m.rowid)"
            ).fetchone()[0]
        )

    def add_vectors(self, model_id: str, entries: list[tuple[int, str, bytes, bytes]]) -> int:
        """Store (rowid, id, vector, distinct tokens) in one transaction, for the memories that are still
        there as they were read (a forgotten one gets none, nor a new one that took its rowid), and only
        while the store's vectors are ``model_id``'s. Returns how many were stored."""
        from array import array

        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                state = self.vector_state()
                if state.get("model", "") != model_id:
                    db.execute("ROLLBACK")
                    return 0
                stored = 0
                counts: dict[int, int] = {}
                for rowid, memory_id, vector, tokens in entries:
                    cur = db.execute(
                        "INSERT OR IGNORE INTO vectors (rowid, vector, tokens)"
                        " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM memories WHERE rowid = ? AND id = ?)",
                        (rowid, vector, tokens, rowid, memory_id),
                    )
                    if cur.rowcount > 0:
                        stored += 1
                        ids = array("H")
                        ids.frombytes(tokens)
                        for token in ids:
                            counts[token] = counts.get(token, 0) + 1
                db.executemany(
                    "INSERT INTO vector_tokens (token, df) VALUES (?, ?)"
                    " ON CONFLICT (token) DO UPDATE SET df = df + excluded.df",
                    sorted(counts.items()),
                )
                self._set_meta(db, count=int(state.get("count") or 0) + stored)
                db.execute("COMMIT")
                return stored
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store write failed: {exc}") from exc

    def vectors_after(self, project: str, after_rowid: int) -> list[tuple[int, bytes]]:
        """(rowid, vector) of ``project``'s memories and the user-wide ones past ``after_rowid``, in order."""
        # CROSS JOIN: walk the vectors past ``after_rowid`` (usually none), not every memory of the project
        return self.db.execute(
            "SELECT v.rowid, v.vector FROM vectors v CROSS JOIN memories m ON m.rowid = v.rowid"
            " WHERE v.rowid > ? AND (m.project = ? OR m.scope = 'user') ORDER BY v.rowid",
            (after_rowid, project),
        ).fetchall()

    def token_counts(self, tokens: list[int]) -> dict[int, int]:
        """{token: how many stored vectors were made with it} for ``tokens``."""
        wanted = sorted(set(tokens))
        marks = ",".join("?" * len(wanted))
        return dict(self.db.execute(f"SELECT token, df FROM vector_tokens WHERE token IN ({marks})", wanted).fetchall())

    def delete(self, memory_id: str) -> bool:
        return self._forget("id = ?", (memory_id,)) > 0

    def delete_all(self, *, project: str | None = None) -> int:
        return self._forget("", ()) if project is None else self._forget("project = ?", (project,))

    def rename_project(self, old: str, new: str, *, at_most: int | None = None) -> int | None:
        """Move every memory of project ``old`` to ``new`` (its identity changed: ``project_map``), the
        index's scope tokens included, in one transaction. Returns how many moved; None, moving
        nothing, when there are more than ``at_most``."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                limit = -1 if at_most is None else at_most + 1
                rows = db.execute(
                    "SELECT rowid, scope FROM memories WHERE project = ? LIMIT ?", (old, limit)
                ).fetchall()
                if at_most is not None and len(rows) > at_most:
                    db.execute("ROLLBACK")
                    return None
                if rows:
                    db.execute("UPDATE memories SET project = ? WHERE project = ?", (new, old))
                    token = scope_token(new)
                    db.executemany(
                        "UPDATE memories_fts SET scope = ? WHERE rowid = ?",
                        [(token, r["rowid"]) for r in rows if r["scope"] != "user"],
                    )
                    # a process keeping a project's vectors reads them again (they changed project)
                    self._set_meta(db, generation=int(self.vector_state().get("generation") or 0) + 1)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store write failed: {exc}") from exc
        if rows:
            from mem0_hooks.ranking import lexical

            lexical.forget_counts()  # the counts of both scopes changed
        return len(rows)

    def delete_older_than(self, iso_cutoff: str) -> int:
        """Retention: forget memories that happened before ``iso_cutoff``."""
        return self._forget("created_at < ?", (iso_cutoff,))

    def used_bytes(self) -> int:
        """What the store holds, in bytes: its pages less the free ones (a forget frees pages that later
        writes reuse; the file itself does not shrink)."""
        db = self.db
        pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages * db.execute("PRAGMA page_size").fetchone()[0])

    def shrink_to(self, max_bytes: int, *, headroom: float = 0.1) -> int:
        """Forget the oldest memories until the store holds at most ``max_bytes`` (``memory.max_store_size_mb``);
        returns how many were forgotten. Conversation turns go first, oldest first; notes (``mem0-hooks add``)
        only when nothing else is left. It forgets down to ``headroom`` below the cap, so that a store at
        its cap is not trimmed again on every flush."""
        forgotten = 0
        for _ in range(20):
            used = self.used_bytes()
            if used <= max_bytes and not forgotten:
                return 0
            goal = max_bytes * (1.0 - headroom)
            if used <= goal:
                break
            count = self.count()
            if count == 0:
                break
            per_memory = used / count
            doomed = min(count, max(1, int((used - goal) / per_memory) + 1))
            forgotten += self._forget(
                "rowid IN (SELECT rowid FROM memories ORDER BY role = 'note', created_at, rowid LIMIT ?)", (doomed,)
            )
        return forgotten

    def tidy(self) -> str:
        """Keep the full-text index in few pieces. Run by the flusher once a drain that stored something
        has emptied the queue (and as it exits). Returns ``"merged"``, ``"optimized"`` (the whole index
        rewritten as one) or ``""`` (nothing to do).

        FTS5 writes each write transaction as a new segment of the index and merges segments only
        lazily, and every search reads every segment (and the entries later writes made dead): a store
        fed one Stop at a time was read through a dozen of them. So the segments of about one size are
        merged once there are two of them (FTS5's ``merge`` with ``usermerge`` 2), which keeps about
        log2(writes) of them. That usually costs a millisecond or two; now and then the merged pieces
        reach the size of the biggest and most of the index is rewritten (about 20 ms at 10,000
        memories). If merging still leaves more than ``TIDY_SEGMENTS`` (writes of unequal sizes), the
        index is rewritten as one: about 60 ms at 10,000 memories and 0.6 s at 100,000.
        """
        db = self.db
        try:
            if self._segments(db) <= 1:
                return ""
            db.execute("BEGIN IMMEDIATE")
            try:
                usermerge = db.execute("SELECT v FROM memories_fts_config WHERE k = 'usermerge'").fetchone()
                if usermerge is None or usermerge[0] != 2:  # (a setting kept in the index: set it once)
                    db.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('usermerge', 2)")
                done = ""
                for _ in range(1000):  # each step writes up to 200 pages; a step that changes fewer than
                    before = db.total_changes  # 2 rows found nothing left to merge
                    db.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('merge', 200)")
                    if db.total_changes - before < 2:
                        break
                    done = "merged"
                if self._segments(db) > TIDY_SEGMENTS:
                    db.execute("INSERT INTO memories_fts (memories_fts) VALUES ('optimize')")
                    done = "optimized"
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # (SQLite has already rolled back after some errors, a full disk)
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store tidy failed: {exc}") from exc
        return done

    @staticmethod
    def _segments(db: sqlite3.Connection) -> int:
        """How many pieces (FTS5 segments) the full-text index is in."""
        return int(db.execute("SELECT count(DISTINCT segid) FROM memories_fts_idx").fetchone()[0])

    # -- reads -------------------------------------------------------------------------------------
    def search(self, query: str, *, project: str, limit: int, deadline: float | None = None) -> list[Memory]:
        """Memories relevant to ``query`` in ``project`` (plus user-wide ones), best first."""
        return self.search_turns(query, project=project, limit=limit).memories

    def search_turns(
        self,
        query: str,
        *,
        project: str,
        limit: int = 50,
        skip_session: str = "",
        skip_ids: Collection[str] = (),
        min_share: float = 0.0,
        semantic_weight: float | None = None,
        remote: Callable[[], Remote] | None = None,
    ) -> Found:
        """Ranked turns for ``query`` with the adjacency the context block needs (``ranking.turns``);
        ``remote``: a remote store's hits fused in (``ranking.fusion``)."""
        from mem0_hooks.ranking import turns

        try:
            return turns.search_turns(
                self,
                query,
                project=project,
                limit=limit,
                skip_session=skip_session,
                skip_ids=skip_ids,
                min_share=min_share,
                semantic_weight=semantic_weight,
                remote=remote,
            )
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store search failed: {exc}") from exc

    # -- reads for ranking (mem0_hooks.ranking): plain tuples of FIELDS -------------------------------
    def _reader(self) -> sqlite3.Cursor:
        read = self.db.cursor()
        read.row_factory = None
        return read

    @staticmethod
    def scope_match(project: str) -> str:
        """The full-text query that restricts a search to ``project`` and the user-wide memories."""
        return f'scope : ("{scope_token(project)}" OR "0")'

    def newest_rowid(self) -> int:
        """The highest rowid of the store (0 when empty): new memories raise it."""
        return int(self.db.execute("SELECT max(rowid) FROM memories").fetchone()[0] or 0)

    def scope_totals(self, in_scope: str) -> tuple[int, int | None, int | None]:
        """(memories, lowest rowid, highest rowid) of those the full-text query ``in_scope`` matches."""
        total, first, last = self.db.execute(
            "SELECT count(*), min(rowid), max(rowid) FROM memories_fts WHERE memories_fts MATCH ?", (in_scope,)
        ).fetchone()
        return int(total), first, last

    def count_matching(self, match: str, limit: int) -> tuple[int, int | None]:
        """How many memories ``match`` (counting stops at ``limit``), and the highest rowid counted."""
        found, reach = self.db.execute(
            "SELECT count(*), max(rowid) FROM (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?"
            " ORDER BY rowid LIMIT ?)",
            (match, limit),
        ).fetchone()
        return int(found), reach

    def ranked_matches(self, match: str, *, from_rowid: int, limit: int, project: str) -> list[Row]:
        """The ``limit`` best memories of ``project`` (or user-wide) for the full-text query ``match``, from
        ``from_rowid`` on, best first: by BM25 over their own text (a turn the query finds only through
        its neighbours' words, in the context column, comes after those)."""
        return (
            self._reader()
            .execute(
                f"SELECT {JOINED_COLUMNS} FROM (SELECT rowid, bm25(memories_fts, 1.0, 0.0, 0.0) AS rank"
                " FROM memories_fts WHERE memories_fts MATCH ? AND rowid >= ? ORDER BY rank LIMIT ?) c"
                " JOIN memories m ON m.rowid = c.rowid WHERE m.project = ? OR m.scope = 'user' ORDER BY c.rank",
                (match, from_rowid, limit, project),
            )
            .fetchall()
        )

    def rows_between(self, project: str, start: str, end: str, limit: int) -> list[Row]:
        """Memories of ``project`` created in [``start``, ``end``), oldest first."""
        return (
            self._reader()
            .execute(
                f"SELECT {COLUMNS} FROM memories WHERE project = ? AND created_at >= ? AND created_at < ?"
                " ORDER BY created_at LIMIT ?",
                (project, start, end, limit),
            )
            .fetchall()
        )

    def openings(self, project: str, limit: int) -> list[Row]:
        """The first turns of the newest ``limit`` sessions of ``project``, newest first."""
        return (
            self._reader()
            .execute(
                f"SELECT {COLUMNS} FROM memories WHERE project = ? AND seq = 1 ORDER BY created_at DESC LIMIT ?",
                (project, limit),
            )
            .fetchall()
        )

    def seq_runs(self, ranges: list[tuple[str, int, int]]) -> list[list[tuple[int, int]]]:
        """For each (session, lowest seq, highest seq), the (rowid, seq) of its turns in that range, in
        order; from the index alone, in one statement. The ranges of one session must not overlap."""
        values = ", ".join(["(?, ?, ?, ?)"] * len(ranges))
        args = [arg for k, (session_id, lo, hi) in enumerate(ranges) for arg in (k, session_id, lo, hi)]
        runs: list[list[tuple[int, int]]] = [[] for _ in ranges]
        for rowid, seq, k in self._reader().execute(
            f"WITH s (k, session_id, lo, hi) AS (VALUES {values}) SELECT m.rowid, m.seq, s.k FROM s"
            " CROSS JOIN memories m ON m.session_id = s.session_id AND m.seq BETWEEN s.lo AND s.hi"
            " ORDER BY s.k, m.seq, m.rowid",
            args,
        ):
            runs[k].append((rowid, seq))
        return runs

    def rows_by_rowid(self, rowids: list[int]) -> dict[int, Row]:
        """{rowid: row} of those of ``rowids`` that exist."""
        found: dict[int, Row] = {}
        for chunk in _chunks(rowids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self._reader().execute(f"SELECT {COLUMNS} FROM memories WHERE rowid IN ({marks})", chunk):
                found[row[ROWID]] = row
        return found

    def rows_by_id(self, ids: Collection[str]) -> dict[str, Row]:
        """{id: row} of those of ``ids`` that exist (a remote store's hits, by the id of ours they carry)."""
        found: dict[str, Row] = {}
        wanted = list(dict.fromkeys(ids))
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            for row in self._reader().execute(f"SELECT {COLUMNS} FROM memories WHERE id IN ({marks})", chunk):
                found[row[ID]] = row
        return found

    def rows_by_text_key(self, keys: Collection[int]) -> dict[int, list[Row]]:
        """{text_key: rows} of the memories whose text has one of ``keys`` (``text_key``): a remote hit
        without an id of ours is matched by its text (the caller compares the texts)."""
        found: dict[int, list[Row]] = {}
        wanted = list(dict.fromkeys(keys))
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            for row in self._reader().execute(
                f"SELECT {COLUMNS}, text_key FROM memories WHERE text_key IN ({marks})", chunk
            ):
                found.setdefault(row[-1], []).append(row[:-1])
        return found

    def neighbours(self, memory: Memory, *, before: int = 1, after: int = 1) -> tuple[list[Memory], list[Memory]]:
        """The turns just before and after ``memory`` in its session."""
        row = self.db.execute("SELECT seq, session_id FROM memories WHERE id = ?", (memory.id,)).fetchone()
        if row is None or not row["session_id"]:
            return [], []
        prev = self.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE session_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (row["session_id"], row["seq"], before),
        ).fetchall()
        nxt = self.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (row["session_id"], row["seq"], after),
        ).fetchall()
        return [memory_of(r) for r in reversed(prev)], [memory_of(r) for r in nxt]

    def recent(self, *, project: str, limit: int) -> list[Memory]:
        """The newest memories of ``project`` and the newest user-wide ones, newest first.

        Two indexed reads merged here: one query with ``OR`` would scan the whole table.
        """
        newest = "ORDER BY created_at DESC, seq DESC LIMIT ?"
        rows = {
            r["rowid"]: r
            for r in self.db.execute(f"SELECT {COLUMNS} FROM memories WHERE project = ? {newest}", (project, limit))
        }
        for r in self.db.execute(f"SELECT {COLUMNS} FROM memories WHERE scope = 'user' {newest}", (limit,)):
            rows.setdefault(r["rowid"], r)
        ordered = sorted(rows.values(), key=lambda r: (r["created_at"], r["seq"]), reverse=True)[:limit]
        return [memory_of(r) for r in ordered]

    def last_session(self, *, project: str, exclude_session: str) -> list[Memory]:
        """The turns of the most recent other session in ``project``, in order."""
        row = self.db.execute(
            "SELECT session_id FROM memories WHERE project = ? AND session_id NOT IN ('', ?)"
            " ORDER BY created_at DESC LIMIT 1",
            (project, exclude_session),
        ).fetchone()
        if row is None:
            return []
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE session_id = ? ORDER BY seq, created_at", (row["session_id"],)
        ).fetchall()
        return [memory_of(r) for r in rows]

    def notes(self, *, project: str, limit: int) -> list[Memory]:
        """Memories added on purpose (``mem0-hooks add``): user-wide ones and this project's."""
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE role = 'note' AND (project = ? OR scope = 'user')"
            " ORDER BY created_at DESC LIMIT ?",
            (project, limit),
        ).fetchall()
        return [memory_of(r) for r in rows]

    def _list_deep(self, project: str, limit: int | None, offset: int) -> list[Memory]:
        """``list`` far into a project: skipping rows in the newest-first order costs a read of each one
        skipped (the order's tie-break, ``seq``, is not in the index), 0.1 s at 100,000. So the date at
        ``offset`` and the number of newer memories are read from the index alone, and only the rows
        from that date on are read. (Not one snapshot: a memory stored in between may shift the page by one.)"""
        at = self.db.execute(
            "SELECT created_at FROM memories WHERE project = ? ORDER BY created_at DESC LIMIT 1 OFFSET ?",
            (project, offset),
        ).fetchone()
        if at is None:
            return []
        newer = self.db.execute(
            "SELECT count(*) FROM memories WHERE project = ? AND created_at > ?", (project, at[0])
        ).fetchone()[0]
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE project = ? AND created_at <= ?"
            " ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?",
            (project, at[0], -1 if limit is None else limit, offset - newer),
        ).fetchall()
        return [memory_of(r) for r in rows]

    def list(self, *, project: str | None = None, limit: int | None = None, offset: int = 0) -> list[Memory]:
        """Every memory (of ``project`` when given), newest first; ``offset`` skips the newest ones."""
        if project is not None and offset >= DEEP_OFFSET:
            return self._list_deep(project, limit, offset)
        sql = f"SELECT {COLUMNS} FROM memories"
        args: list[Any] = []
        if project is not None:
            sql += " WHERE project = ?"
            args.append(project)
        sql += " ORDER BY created_at DESC, seq DESC"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else limit, max(offset, 0)]
        return [memory_of(r) for r in self.db.execute(sql, args).fetchall()]

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM memories").fetchone()[0])

    def health(self) -> str:
        try:
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store {self.path} is unreadable: {exc}") from exc
        if check != "ok":
            raise BackendUnavailable(f"local store {self.path} is damaged: {check}")
        return f"local store {self.path}: {self.count()} memories"


def _adjacent(
    db: sqlite3.Connection, session_id: str, seq: int, rowid: int, skip: set[int] | frozenset[int] = frozenset()
) -> tuple[sqlite3.Row | None, sqlite3.Row | None]:
    """The rows just before and after (``seq``, ``rowid``) in its session, passing over ``skip``."""
    before = after = None
    for row in db.execute(
        "SELECT rowid, text FROM memories WHERE session_id = ? AND (seq < ? OR (seq = ? AND rowid < ?))"
        " ORDER BY seq DESC, rowid DESC LIMIT ?",
        (session_id, seq, seq, rowid, len(skip) + 1),
    ):
        if row["rowid"] not in skip:
            before = row
            break
    for row in db.execute(
        "SELECT rowid, text FROM memories WHERE session_id = ? AND (seq > ? OR (seq = ? AND rowid > ?))"
        " ORDER BY seq, rowid LIMIT ?",
        (session_id, seq, seq, rowid, len(skip) + 1),
    ):
        if row["rowid"] not in skip:
            after = row
            break
    return before, after


def _context(sides: Iterable[sqlite3.Row | None]) -> str:
    """A turn's ``context`` column: the text of the turns just before and after it (``_adjacent``)."""
    return "\n".join(r["text"] for r in sides if r is not None)


def _dumps(metadata: dict[str, Any]) -> str:
    """The metadata column: ``{}`` without importing a JSON codec for the common empty case."""
    if not metadata:
        return "{}"
    from mem0_hooks import fastjson

    return str(fastjson.dumps(metadata))


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def memory_of(row: Row | sqlite3.Row, score: float | None = None) -> Memory:
    raw = row[METADATA]
    metadata: dict[str, Any] = {}
    if raw and raw != "{}":
        from mem0_hooks import fastjson  # only for the rare memory that carries metadata

        try:
            loaded = fastjson.loads(raw)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            metadata = loaded
    return Memory(
        id=row[ID],
        text=row[TEXT],
        role=row[ROLE],
        created_at=row[CREATED_AT],
        session_id=row[SESSION_ID],
        project=row[PROJECT],
        scope=row[SCOPE],
        score=score,
        metadata=metadata,
    )
