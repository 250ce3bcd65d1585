"""The embedded store: SQLite with FTS5 (BM25, Porter stemming) in the data dir. The default backend.

One row per turn. WAL lets many sessions read while one flusher writes; a stored id is never stored
twice (``INSERT OR IGNORE`` on the id), which is what makes queue redelivery harmless. Schema changes
are numbered migrations recorded in ``PRAGMA user_version`` and the ``migrations`` table.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from typing import Any

from mem0_hooks import paths
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.errors import BackendUnavailable


# Numbered migrations: each a list of statements, applied in one transaction on open.
# (Statements, not executescript: executescript would commit the surrounding transaction.)
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
    "CREATE VIRTUAL TABLE memories_fts USING fts5 (text, context, tokenize = 'porter unicode61 remove_diacritics 2')",
]

MIGRATIONS: list[tuple[str, list[str]]] = [
    ("m001_initial", M001_INITIAL),
]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    let lets please tell know think remember recall also get got one thing things us ok okay yes hi hello hey
    thanks thank""".split()
)


def query_terms(text: str, limit: int = 32) -> list[str]:
    """Content words of a prompt, lower-cased, in order, without stopwords or repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 1 and word not in STOPWORDS and word not in seen:
            seen[word] = None
            if len(seen) >= limit:
                break
    return list(seen)


class LocalStore:
    """SQLite + FTS5 store at ``path`` (default: ``memories.sqlite3`` in the data dir)."""

    name = "local"

    def __init__(self, path: str | None = None, *, timeout: float = 5.0) -> None:
        self.path = path or paths.store_db()
        self._timeout = timeout
        self._db: sqlite3.Connection | None = None

    # -- connection --------------------------------------------------------------------------------
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
            for number, (name, statements) in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements:
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
            for item in items:
                cur = db.execute(
                    "INSERT OR IGNORE INTO memories (id, text, role, created_at, session_id, project, scope, seq,"
                    " metadata, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.id,
                        item.text,
                        item.role,
                        item.created_at,
                        item.session_id,
                        item.project,
                        item.scope,
                        item.seq,
                        json.dumps(item.metadata or {}),
                        now,
                    ),
                )
                if cur.rowcount:
                    self._index(db, cur.lastrowid, item)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise BackendUnavailable(f"local store write failed: {exc}") from exc

    def _index(self, db: sqlite3.Connection, rowid: int | None, item: MemoryItem) -> None:
        """Index a new turn with its neighbour's text as context, and give the neighbour this one's."""
        previous = None
        if item.session_id:
            previous = db.execute(
                "SELECT rowid, text FROM memories WHERE session_id = ? AND seq < ? AND rowid != ?"
                " ORDER BY seq DESC LIMIT 1",
                (item.session_id, item.seq, rowid),
            ).fetchone()
        context = previous["text"] if previous else ""
        db.execute("INSERT INTO memories_fts (rowid, text, context) VALUES (?, ?, ?)", (rowid, item.text, context))
        if previous is not None:
            row = db.execute("SELECT context FROM memories_fts WHERE rowid = ?", (previous["rowid"],)).fetchone()
            joined = ((row["context"] + "\n") if row and row["context"] else "") + item.text
            db.execute("UPDATE memories_fts SET context = ? WHERE rowid = ?", (joined, previous["rowid"]))

    def delete(self, memory_id: str) -> bool:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT rowid FROM memories WHERE id = ?", (memory_id,)).fetchone()
        if row is not None:
            db.execute("DELETE FROM memories_fts WHERE rowid = ?", (row["rowid"],))
            db.execute("DELETE FROM memories WHERE rowid = ?", (row["rowid"],))
        db.execute("COMMIT")
        return row is not None

    def delete_all(self, *, project: str | None = None) -> int:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        if project is None:
            count = db.execute("SELECT count(*) FROM memories").fetchone()[0]
            db.execute("DELETE FROM memories_fts")
            db.execute("DELETE FROM memories")
        else:
            count = db.execute("SELECT count(*) FROM memories WHERE project = ?", (project,)).fetchone()[0]
            db.execute("DELETE FROM memories_fts WHERE rowid IN (SELECT rowid FROM memories WHERE project = ?)", (project,))
            db.execute("DELETE FROM memories WHERE project = ?", (project,))
        db.execute("COMMIT")
        return int(count)

    def delete_older_than(self, iso_cutoff: str) -> int:
        """Retention: forget memories that happened before ``iso_cutoff``."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM memories_fts WHERE rowid IN (SELECT rowid FROM memories WHERE created_at < ?)", (iso_cutoff,))
        count = db.execute("DELETE FROM memories WHERE created_at < ?", (iso_cutoff,)).rowcount
        db.execute("COMMIT")
        return int(count)

    # -- reads -------------------------------------------------------------------------------------
    def search(self, query: str, *, project: str, limit: int, deadline: float | None = None) -> list[Memory]:
        terms = query_terms(query)
        if not terms:
            return []
        match = " OR ".join('"%s"' % t for t in terms)
        try:
            rows = self.db.execute(
                "SELECT m.*, bm25(memories_fts, 1.0, 0.35) AS rank FROM memories_fts"
                " JOIN memories m ON m.rowid = memories_fts.rowid"
                " WHERE memories_fts MATCH ? AND (m.project = ? OR m.scope = 'user')"
                " ORDER BY rank LIMIT ?",
                (match, project, limit),
            ).fetchall()
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store search failed: {exc}") from exc
        return [_memory(row, score=-row["rank"]) for row in rows]

    def neighbours(self, memory: Memory, *, before: int = 1, after: int = 1) -> tuple[list[Memory], list[Memory]]:
        """The turns just before and after ``memory`` in its session."""
        row = self.db.execute("SELECT seq, session_id FROM memories WHERE id = ?", (memory.id,)).fetchone()
        if row is None or not row["session_id"]:
            return [], []
        prev = self.db.execute(
            "SELECT * FROM memories WHERE session_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (row["session_id"], row["seq"], before),
        ).fetchall()
        nxt = self.db.execute(
            "SELECT * FROM memories WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (row["session_id"], row["seq"], after),
        ).fetchall()
        return [_memory(r) for r in reversed(prev)], [_memory(r) for r in nxt]

    def recent(self, *, project: str, limit: int) -> list[Memory]:
        rows = self.db.execute(
            "SELECT * FROM memories WHERE project = ? OR scope = 'user' ORDER BY created_at DESC, seq DESC LIMIT ?",
            (project, limit),
        ).fetchall()
        return [_memory(r) for r in rows]

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
            "SELECT * FROM memories WHERE session_id = ? ORDER BY seq, created_at", (row["session_id"],)
        ).fetchall()
        return [_memory(r) for r in rows]

    def notes(self, *, project: str, limit: int) -> list[Memory]:
        """Memories added on purpose (``mem0-hooks add``): user-wide ones and this project's."""
        rows = self.db.execute(
            "SELECT * FROM memories WHERE role = 'note' AND (project = ? OR scope = 'user')"
            " ORDER BY created_at DESC LIMIT ?",
            (project, limit),
        ).fetchall()
        return [_memory(r) for r in rows]

    def list(self, *, project: str | None = None, limit: int | None = None) -> list[Memory]:
        sql = "SELECT * FROM memories"
        args: list[Any] = []
        if project is not None:
            sql += " WHERE project = ?"
            args.append(project)
        sql += " ORDER BY created_at DESC, seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_memory(r) for r in self.db.execute(sql, args).fetchall()]

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


def _memory(row: sqlite3.Row, score: float | None = None) -> Memory:
    try:
        metadata = json.loads(row["metadata"] or "{}")
    except ValueError:
        metadata = {}
    return Memory(
        id=row["id"],
        text=row["text"],
        role=row["role"],
        created_at=row["created_at"],
        session_id=row["session_id"],
        project=row["project"],
        scope=row["scope"],
        score=score,
        metadata=metadata,
    )
