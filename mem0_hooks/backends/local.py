"""The embedded store: SQLite with FTS5 (BM25, Porter stemming) in the data dir. The default backend.

One row per turn. WAL lets many sessions read while one flusher writes; a stored id is never stored
twice (``INSERT OR IGNORE`` on the id), which is what makes queue redelivery harmless. Schema changes
are numbered migrations recorded in ``PRAGMA user_version`` and the ``migrations`` table.

The full-text index has three columns: the turn's ``text``; its ``context``, the text of the turns just
before and after it in its session (so a turn is found by the question that was put to it); and a
``scope`` token (a checksum of the project, or ``0`` for user-wide memories) that lets FTS5 itself
restrict a search to one project instead of ranking every project's matches and filtering after.

How ``search_turns`` ranks (no language model; in a long-lived process about 2.6 ms at 10k memories
and 4.5 ms at 100k with cold CPU caches, see README "Recall quality"):

1. The prompt becomes content words (``local_query.analyse``: stopwords, question words and words about
   the conversation out; dates taken apart; "ran" and "bought" added to "run" and "buy", the irregular
   forms Porter stemming does not bring together). Each word's document frequency *in this project* is
   counted through the index, and its weight is its IDF squared: sharper than BM25's own, so that a
   name or a word that is all over a project counts for little next to the rare word that says what the
   prompt is about. Counting stops at ``COUNT_LIMIT`` matches (the rest is estimated), and the counts
   are kept for the life of the process until the store has grown by ``STALE_SHARE``.
2. Candidates: FTS5 BM25 over text and (at half weight) context ranks the turns that have the rarer
   words (a word in more than 30% of the project is not searched for, nor the commoner words once the
   rarer ones match ``MAX_POSTINGS`` turns; when even the rarest is in more than ``RANK_POSTINGS``,
   only the newest of its turns are ranked: this is what keeps a 100k store fast). When the prompt
   names a date, the turns of that time join them, and so do the first turns of the newest
   ``OPENINGS`` sessions. The best candidates are widened to the turns around them (``WINDOW`` each
   side), read in seq order, which also says which turns are adjacent.
3. Every turn read is scored again in Python: BM25 with the squared IDF (every prompt word this time,
   common ones included) over its own text, times a bonus for each extra distinct prompt word; plus
   half the score of each direct neighbour and a fifth of the next ones (an answer rarely repeats the
   question's words, so a turn after a question gets all of it); plus a quarter of its session's
   share of the best session score (a session about the topic holds more of it). A prompt that asks
   *when* doubles the score of turns that say when ("yesterday", "last week", a date); a prompt that
   names a date favours the turns of that time, even without a matching word. A prompt that names
   someone the turns address by name ("Thanks, Sam!") doubles the score of that person's own turns
   (``_spoken_of``): asked what Sam did, the answer is what Sam said, not the turns that greet Sam;
   and in a turn that addresses Sam, "Sam" adds no weight (it still counts towards the bonus for
   matching several words). A session's first turn says what the session was for: it scores half as
   much again, and gets a small share of the best score even without a matching word (below the
   default cut of step 4: without a matching word it only fills the end of a block when there is no
   cut). A prompt that matches nothing, or only turns the search is told to skip (the current
   session's, those already injected), still gets nothing. Newer turns win ties.
   (A store keeps the words of the last ``WORDS_CACHED`` turns it scored: consecutive prompts read
   many of the same turns, and splitting them again cost about 0.5 ms of each search.)
4. With ``min_share`` (recall passes ``memory.min_relevance``, 0.2), turns scoring below that share
   of the best one are left out: a prompt with one clear answer gets a short block, one with many
   good matches a full one.

bench/recall.py measures what each of these buys on LoCoMo.
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
import time
import zlib

from mem0_hooks import paths
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.errors import BackendUnavailable
from mem0_hooks.local_query import (
    STOPWORDS,
    analyse,
    date_closeness,
    date_range,
    mentions_time,
    query_words,
    split_words,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Mapping
    from typing import Any

    Migration = list[str] | Callable[[sqlite3.Connection], None]
    Row = tuple[Any, ...]  # a row of FIELDS, as a search reads it

__all__ = ["LocalStore", "Found", "STOPWORDS", "query_terms", "scope_token"]

TOKENIZER = "porter unicode61 remove_diacritics 2"

# -- ranking knobs (see the module docstring; bench/recall.py measures each) --------------------------
CANDIDATES = 50  # turns taken from the FTS5 ranking
WINDOWED = 20  # of those, how many are widened to their neighbours
WINDOW = 2  # neighbours read on each side
DATE_ROWS = 150  # turns read from the time a prompt names
COMMON_SHARE = 0.3  # a word in more of the project's memories than this is not searched for
MAX_POSTINGS = 200  # nor are the commoner words once the rarer ones already match this many memories
COUNT_LIMIT = 50  # a word's memories are counted up to this many; beyond, estimated from where the last falls
CACHED_COUNT_MIN = 50  # word counts below this are counted on every search (cheap, and never stale)
RANK_POSTINGS = 300  # when the searched words are in more memories than this, only the newest are ranked
IDF_POWER = 2.0
K1, B = 1.2, 0.75
COORDINATION = 0.2  # bonus per extra distinct prompt word in one turn
NEIGHBOUR_WEIGHTS = (0.5, 0.2)  # share of a neighbour's score at distance 1, 2
SESSION_WEIGHT = 0.25  # share of the best session's score given to every turn of a session
SESSION_TOP = 3  # a session's score: the sum of its best turns
TIME_BOOST = 1.0  # on a "when" prompt, turns that say when score (1 + this) times more
DATE_BOOST = 1.0  # turns from the named time score up to (1 + this) times more ...
DATE_BASE = 0.5  # ... plus this share of the best score, so they count even without a matching word
QUESTION_WEIGHT = 1.0  # share of the turn before when that turn asked a question (this one answers it)
SPEAKER_BOOST = 1.0  # on a prompt about someone the turns address by name, their own turns score (1 + this) times more
ADDRESSED_TURNS = 3  # ... once that many of the turns read address them, nearly all (ADDRESSED_SHARE) said by one role
ADDRESSED_SHARE = 0.75
OPENINGS = 40  # the first turns of this many of the newest sessions are read with every search ...
OPENING_BOOST = 0.5  # ... a session's first turn scores (1 + this) times more ...
OPENING_BASE = 0.15  # ... plus this share of the best score, so it counts even without a matching word
SESSION_DIVERSITY = 1.0  # < 1: each further turn of a session ranks this much lower (off: it costs recall)
RECENCY = 0.02  # the newest turn read scores up to this much more: a tie-breaker, not a ranking
SCORE_CHARS = 4000  # only this much of a long turn is tokenised for scoring
CONTEXT_WEIGHT = 0.5  # weight of the context column in the FTS5 ranking
STALE_SHARE = 0.05  # word counts are reused until the store grew by this share of the scope ...
STALE_SECONDS = 600.0  # ... or for this long
STALE_WORDS = 20_000  # ... or until this many words were counted
KNOWN_STEMS = 50_000  # words whose stem the process remembers
TIDY_SEGMENTS = 8  # ``tidy`` rewrites the full-text index as one segment when merging leaves more than this
WAL_KEPT_BYTES = 4 * 1024 * 1024  # the WAL file is cut back to this after a checkpoint
WORDS_CACHED = 2048  # turns whose words a store keeps between searches (about 1 KB each)

# What every read of memories selects, in this order: ``_memory`` and the search read a row by position
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

MIGRATIONS: list[tuple[str, Migration]] = [
    ("m001_initial", M001_INITIAL),
    ("m002_scope_column", m002_scope_column),
    ("m003_notes_index", M003_NOTES_INDEX),
    ("m004_openings_index", M004_OPENINGS_INDEX),
]


def query_terms(text: str, limit: int = 32) -> list[str]:
    """Content words of a prompt, lower-cased, in order, without stopwords or repeats."""
    return query_words(text, limit)


class Found:
    """What ``search_turns`` found: memories best first, which turn ``follows`` which, the prompt's words."""

    __slots__ = ("memories", "follows", "words")

    def __init__(self, memories: list[Memory], follows: dict[str, str], words: list[str]) -> None:
        self.memories = memories
        self.follows = follows  # id -> id of the turn just before it in its session (when both were read)
        self.words = words


class _Frequencies:
    """How many memories one scope of one store holds, and how many of them have each word (by stem)."""

    __slots__ = ("total", "first", "last", "newest", "counted_at", "of_words")

    def __init__(self, total: int, first: int, last: int, newest: int, counted_at: float) -> None:
        self.total = total
        self.first, self.last = first, last  # the lowest and highest rowid in scope
        self.newest = newest  # the highest rowid of the store when counted: new rows raise it
        self.counted_at = counted_at
        self.of_words: dict[str, int] = {}

    def count(self, db: sqlite3.Connection, match: str) -> int:
        """How many memories ``match``: exact up to ``COUNT_LIMIT``, then estimated.

        Counting a word that is everywhere costs as much as ranking with it, so the count stops at
        ``COUNT_LIMIT`` and the rest is extrapolated from how far into the scope's rowids that many
        matches reach (rough when a project's memories are unevenly spread, which only shifts a
        common word's small weight a little).
        """
        found, reach = db.execute(
            "SELECT count(*), max(rowid) FROM (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?"
            " ORDER BY rowid LIMIT ?)",
            (match, COUNT_LIMIT),
        ).fetchone()
        if found < COUNT_LIMIT or reach is None or reach >= self.last:
            return int(found)
        return min(int(found * (self.last - self.first + 1) / (reach - self.first + 1)), self.total)

    def recent_from(self, postings: int) -> int:
        """The lowest rowid worth ranking when the searched words match ``postings`` memories: the
        newest ``RANK_POSTINGS`` or so of them (when even the rarest word is everywhere, ranking them
        all costs more than it tells, and the newest are the likelier to matter)."""
        if postings <= RANK_POSTINGS:
            return 0
        return self.last - int((self.last - self.first) * RANK_POSTINGS / postings)


_FREQUENCIES: dict[tuple[Any, ...], _Frequencies] = {}


class LocalStore:
    """SQLite + FTS5 store at ``path`` (default: ``memories.sqlite3`` in the data dir)."""

    name = "local"

    def __init__(self, path: str | None = None, *, timeout: float = 5.0) -> None:
        self.path = path or paths.store_db()
        self._timeout = timeout
        self._db: sqlite3.Connection | None = None
        self._words: dict[tuple[int, str], tuple[str, ...]] = {}  # (rowid, id) -> words, see _words_of

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
                        _dumps(item.metadata or {}),
                        now,
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
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        if count:
            self._truncate_wal(db)
        return int(count)

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
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store write failed: {exc}") from exc
        if rows:
            _FREQUENCIES.clear()  # the counts of both scopes changed
        return len(rows)

    def delete_older_than(self, iso_cutoff: str) -> int:
        """Retention: forget memories that happened before ``iso_cutoff``."""
        return self._forget("created_at < ?", (iso_cutoff,))

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
    ) -> Found:
        """Ranked turns for ``query`` with the adjacency the context block needs (see the module doc).

        Turns of ``skip_session`` (the current one: Claude has them already) and ``skip_ids`` (already
        injected) are left out, and do not count as matches: a prompt that only they match finds nothing.
        Turns scoring below ``min_share`` of the best one are left out too: a prompt with one clear
        answer then gets a short block, and one with many good matches a full one.
        """
        try:
            return self._search_turns(query, project, limit, skip_session, skip_ids, min_share)
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"local store search failed: {exc}") from exc

    def _search_turns(
        self, query: str, project: str, limit: int, skip_session: str, skip_ids: Collection[str], min_share: float
    ) -> Found:
        asked = analyse(query)
        if not asked.words and not asked.dates:
            return Found([], {}, [])
        db = self.db
        in_scope = f'scope : ("{scope_token(project)}" OR "0")'
        counts = self._frequencies(db, in_scope)
        total = counts.total
        if not total:
            return Found([], {}, asked.words)
        tokens = _tokens()

        # 1. words -> stems, and how common each is in this project
        stems: dict[str, str] = {}
        for word, stem in tokens.stem(asked.words).items():
            stems.setdefault(stem, word)
        weights: dict[str, float] = {}
        searched: list[str] = []
        postings = 0  # memories the searched words have
        if stems:
            common = max(int(COMMON_SHARE * total), 1)
            frequency: dict[str, int] = {}
            for stem, word in stems.items():
                known = counts.of_words.get(stem)
                if known is None:
                    known = counts.count(db, f'text : "{word}" AND {in_scope}')
                    if known >= CACHED_COUNT_MIN:
                        # Only common words are kept: a rare or new word (a name the prompt brings
                        # up before any memory has it) is cheap to count again and must not stay 0.
                        counts.of_words[stem] = known
                frequency[stem] = known
            present = sorted((s for s in stems if frequency[s]), key=frequency.__getitem__)
            for stem in present:  # the rarest words, while FTS5 has few enough matches to rank quickly
                if searched and (frequency[stem] > common or postings + frequency[stem] > MAX_POSTINGS):
                    break
                searched.append(stems[stem])
                postings += frequency[stem]
            for stem in present:
                df = frequency[stem]
                weights[stem] = math.log(1.0 + (total - df + 0.5) / (df + 0.5)) ** IDF_POWER

        # 2. candidates: the FTS5 ranking, the time the prompt names, and the turns around the best
        read = db.cursor()
        read.row_factory = None  # plain tuples, indexed by the positions in FIELDS
        rows: dict[int, Row] = {}
        ranked_ids: list[int] = []
        if searched:
            words = " OR ".join(f'"{w}"' for w in searched)
            match = f"({{text context}} : ({words})) AND {in_scope}"
            for row in read.execute(
                f"SELECT {JOINED_COLUMNS} FROM (SELECT rowid, bm25(memories_fts, 1.0, ?, 0.0) AS rank"
                " FROM memories_fts WHERE memories_fts MATCH ? AND rowid >= ? ORDER BY rank LIMIT ?) c"
                " JOIN memories m ON m.rowid = c.rowid WHERE m.project = ? OR m.scope = 'user' ORDER BY c.rank",
                (CONTEXT_WEIGHT, match, counts.recent_from(postings), CANDIDATES, project),
            ):
                rows[row[ROWID]] = row
                ranked_ids.append(row[ROWID])
        for date in asked.dates:
            bounds = date_range(date)
            if bounds is None:
                continue
            for row in read.execute(
                f"SELECT {COLUMNS} FROM memories WHERE project = ? AND created_at >= ? AND created_at < ?"
                " ORDER BY created_at LIMIT ?",
                (project, bounds[0], bounds[1], DATE_ROWS),
            ):
                rows.setdefault(row[ROWID], row)
        for row in read.execute(
            f"SELECT {COLUMNS} FROM memories WHERE project = ? AND seq = 1 ORDER BY created_at DESC LIMIT ?",
            (project, OPENINGS),
        ):
            rows.setdefault(row[ROWID], row)
        follows = self._widen(read, [rows[i] for i in ranked_ids[:WINDOWED]], rows)
        if not rows:
            return Found([], {}, asked.words)

        # 3. score every turn read
        words_of = self._words_of(rows)
        speaker, addressing = _spoken_of(asked.names, rows, words_of) if SPEAKER_BOOST else (None, {})
        # "Thanks, Sam!" is said to Sam, not about Sam: in the turns that address Sam the name adds no weight
        own = tokens.scores(words_of, weights, addressing)
        skipped = {
            rowid
            for rowid, row in rows.items()
            if (skip_session and row[SESSION_ID] == skip_session) or row[ID] in skip_ids
        }
        top = max((score for rowid, score in own.items() if rowid not in skipped), default=0.0)
        after = {prev: nxt for nxt, prev in follows.items()}
        best_in_session: dict[str, list[float]] = {}
        for rowid, row in rows.items():
            best_in_session.setdefault(row[SESSION_ID] or f"\0{rowid}", []).append(own[rowid])
        session_score = {k: sum(sorted(v, reverse=True)[:SESSION_TOP]) for k, v in best_in_session.items()}
        top_session = max(session_score.values(), default=0.0) or 1.0
        by_time = sorted(rows, key=lambda r: rows[r][CREATED_AT])
        newness = {rowid: index / max(len(by_time) - 1, 1) for index, rowid in enumerate(by_time)}
        scored: list[tuple[float, str, int]] = []
        for rowid, row in rows.items():
            score = own[rowid]
            back: int | None = rowid
            fwd: int | None = rowid
            for distance, weight in enumerate(NEIGHBOUR_WEIGHTS):
                back = follows.get(back) if back is not None else None
                fwd = after.get(fwd) if fwd is not None else None
                if back is not None:
                    asked_here = distance == 0 and QUESTION_WEIGHT and "?" in rows[back][TEXT][-300:]
                    score += (QUESTION_WEIGHT if asked_here else weight) * own[back]
                if fwd is not None:
                    score += weight * own[fwd]
            score += SESSION_WEIGHT * top * session_score[row[SESSION_ID] or f"\0{rowid}"] / top_session
            if asked.about_time and TIME_BOOST and mentions_time(words_of[rowid]):
                score *= 1.0 + TIME_BOOST
            if asked.dates:
                fit = date_closeness(row[CREATED_AT], asked.dates)
                score = score * (1.0 + DATE_BOOST * fit) + DATE_BASE * fit * (top or 1.0)
            if speaker is not None and row[ROLE] == speaker:
                score *= 1.0 + SPEAKER_BOOST
            if row[SEQ] == 1 and row[SESSION_ID]:
                score *= 1.0 + OPENING_BOOST
                if speaker is None or row[ROLE] == speaker:
                    score += OPENING_BASE * top
            if score > 0 and rowid not in skipped:
                score *= 1.0 + RECENCY * newness[rowid]
                scored.append((score, row[CREATED_AT], rowid))
        scored.sort(reverse=True)
        if min_share and scored:
            floor = min_share * scored[0][0]
            scored = [entry for entry in scored if entry[0] >= floor]
        if SESSION_DIVERSITY < 1.0:
            scored = _diversify(scored, rows, limit)
        memories = [_memory(rows[rowid], score=score) for score, _, rowid in scored[:limit]]
        ids = {rowid: rows[rowid][ID] for _, _, rowid in scored[:limit]}
        links = {ids[n]: ids[p] for n, p in follows.items() if n in ids and p in ids}
        return Found(memories, links, asked.words)

    def _words_of(self, rows: dict[int, Row]) -> dict[int, tuple[str, ...]]:
        """{rowid: the words of its text} as scoring sees them, remembered between searches.

        Splitting is a good part of a search's cost, and consecutive prompts read many of the same
        turns. A turn's text never changes, but a rowid can be reused after a forget, hence the id in
        the key. The words are interned: a turn then costs about its word count in pointers.
        """
        known = self._words
        words_of: dict[int, tuple[str, ...]] = {}
        for rowid, row in rows.items():
            key = (rowid, row[ID])
            words = known.get(key)
            if words is None:
                words = tuple(map(sys.intern, split_words(row[TEXT][:SCORE_CHARS])))
                if len(known) >= WORDS_CACHED:
                    known.clear()
                known[key] = words
            words_of[rowid] = words
        return words_of

    def _frequencies(self, db: sqlite3.Connection, in_scope: str) -> _Frequencies:
        """The memories in scope and the per-word counts known so far, counted again when stale.

        Counting is the costliest part of a search on a big store, and the figures move slowly: a
        count is reused until the store has grown by ``STALE_SHARE`` of it, its newest rows were
        forgotten, or ``STALE_SECONDS`` passed (the IDF of a word is then a little off, never wrong
        enough to matter). Kept per store file (a replaced file is a new key) for the life of the
        process, so a long-lived process pays for each word once.
        """
        newest = db.execute("SELECT max(rowid) FROM memories").fetchone()[0] or 0
        try:
            stat = os.stat(self.path)
            key: tuple[Any, ...] | None = (self.path, stat.st_dev, stat.st_ino, in_scope)
        except OSError:
            key = None
        now = time.monotonic()
        counts = _FREQUENCIES.get(key) if key is not None else None
        if (
            counts is None
            or newest < counts.newest
            or newest - counts.newest > STALE_SHARE * counts.total
            or now - counts.counted_at > STALE_SECONDS
            or len(counts.of_words) > STALE_WORDS
        ):
            total, first, last = db.execute(
                "SELECT count(*), min(rowid), max(rowid) FROM memories_fts WHERE memories_fts MATCH ?", (in_scope,)
            ).fetchone()
            counts = _Frequencies(total, first or 0, last or 0, newest, now)
            if key is not None:
                if len(_FREQUENCIES) >= 64:  # many stores or projects in one process: start afresh
                    _FREQUENCIES.clear()
                _FREQUENCIES[key] = counts
        return counts

    def _widen(self, read: sqlite3.Cursor, best: list[Row], rows: dict[int, Row]) -> dict[int, int]:
        """Read the turns around ``best`` into ``rows``; returns {rowid: rowid of the turn just before}.

        One range per stretch of nearby candidates. Turn numbers (``seq``) have gaps (a prompt captured
        by UserPromptSubmit and again from the transcript uses two), so each range is read with room to
        spare, from the index alone, and cut to ``WINDOW`` turns on each side; then the turns kept that
        were not read yet are read. Two statements in all, whatever the number of stretches.
        """
        pad = 3 * WINDOW + 2
        wanted: dict[str, list[int]] = {}
        for row in best:
            if row[SESSION_ID]:
                wanted.setdefault(row[SESSION_ID], []).append(row[SEQ])
        stretches: list[tuple[str, int, int]] = []  # (session, lowest seq, highest seq)
        for session_id, seqs in wanted.items():
            seqs.sort()
            lo = hi = seqs[0]
            for seq in seqs[1:]:
                if seq - hi > 2 * pad:
                    stretches.append((session_id, lo, hi))
                    lo = seq
                hi = seq
            stretches.append((session_id, lo, hi))
        if not stretches:
            return {}
        # The padded ranges of one session never overlap (stretches are more than 2 * pad apart), so
        # each turn read belongs to one stretch, whose number ``k`` is read with it.
        values = ", ".join(["(?, ?, ?, ?)"] * len(stretches))
        args = [arg for k, (session_id, lo, hi) in enumerate(stretches) for arg in (k, session_id, lo - pad, hi + pad)]
        runs: list[list[tuple[int, int]]] = [[] for _ in stretches]
        for rowid, seq, k in read.execute(
            f"WITH s (k, session_id, lo, hi) AS (VALUES {values}) SELECT m.rowid, m.seq, s.k FROM s"
            " CROSS JOIN memories m ON m.session_id = s.session_id AND m.seq BETWEEN s.lo AND s.hi"
            " ORDER BY s.k, m.seq, m.rowid",
            args,
        ):
            runs[k].append((rowid, seq))
        follows: dict[int, int] = {}
        kept: list[int] = []
        for (_, lo, hi), run in zip(stretches, runs, strict=True):
            hits = [i for i, (_, seq) in enumerate(run) if lo <= seq <= hi]
            if not hits:
                continue
            run = run[max(hits[0] - WINDOW, 0) : hits[-1] + WINDOW + 1]
            for (prev, _), (nxt, _) in zip(run, run[1:], strict=False):
                follows[nxt] = prev
            kept.extend(rowid for rowid, _ in run)
        missing = [rowid for rowid in kept if rowid not in rows]
        if missing:
            marks = ",".join("?" * len(missing))
            found = {
                row[ROWID]: row
                for row in read.execute(f"SELECT {COLUMNS} FROM memories WHERE rowid IN ({marks})", missing)
            }
            for rowid in missing:  # in the order of the runs, as the rest of the search expects
                if rowid in found:
                    rows[rowid] = found[rowid]
            if len(found) < len(missing):  # forgotten between the two reads: leave them out, links too
                follows = {nxt: prev for nxt, prev in follows.items() if nxt in rows and prev in rows}
        return follows

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
        return [_memory(r) for r in reversed(prev)], [_memory(r) for r in nxt]

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
        return [_memory(r) for r in ordered]

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
        return [_memory(r) for r in rows]

    def notes(self, *, project: str, limit: int) -> list[Memory]:
        """Memories added on purpose (``mem0-hooks add``): user-wide ones and this project's."""
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE role = 'note' AND (project = ? OR scope = 'user')"
            " ORDER BY created_at DESC LIMIT ?",
            (project, limit),
        ).fetchall()
        return [_memory(r) for r in rows]

    def list(self, *, project: str | None = None, limit: int | None = None) -> list[Memory]:
        sql = f"SELECT {COLUMNS} FROM memories"
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


def _spoken_of(
    names: list[str], rows: dict[int, Row], words_of: dict[int, tuple[str, ...]]
) -> tuple[str | None, dict[int, list[str]]]:
    """The role ("user" or "assistant") whose turns are by the person ``names`` point to, if any, and
    the turns of the other role that address that person ({rowid: [name, ...]}).

    In a conversation people address each other by name ("Thanks, Sam!", "Hey Sam, ..."): a name that
    the turns read address, nearly always in one role's turns, is the other role's. A prompt that asks
    about that person ("What does Sam do on weekends?") is answered by what they said, not by the
    turns that greet them. Names that point to both roles, or to none, give no answer.
    """
    found: str | None = None
    addressing: dict[int, list[str]] = {}
    for name in names:
        turns = [rowid for rowid, words in words_of.items() if name in words]
        if len(turns) < ADDRESSED_TURNS:
            continue
        addressed = [rowid for rowid in turns if _addresses(rows[rowid][TEXT], name)]
        if len(addressed) < ADDRESSED_TURNS:
            continue
        roles = [rows[rowid][ROLE] for rowid in addressed]
        for role, other in (("user", "assistant"), ("assistant", "user")):
            if roles.count(role) >= ADDRESSED_SHARE * len(roles):
                if found not in (None, other):
                    return None, {}
                found = other
                for rowid in addressed:
                    if rows[rowid][ROLE] == role:
                        addressing.setdefault(rowid, []).append(name)
    return found, addressing


def _addresses(text: str, name: str) -> bool:
    """Whether ``text`` speaks to ``name`` (lower case): right after a greeting or thanks ("Hey Sam",
    "Thanks Sam"), or set off by a comma and ending there ("That's great, Sam!", "Wow, Sam, ...").
    A mention is not an address: "Priya, Tom and I will...", "checked with Priya?", "Ping Priya, she...".
    """
    lowered = text.lower()
    at = lowered.find(name)
    while at >= 0:
        end = at + len(name)
        if (at == 0 or not lowered[at - 1].isalnum()) and (end == len(lowered) or not lowered[end].isalnum()):
            before = lowered[:at].rstrip()
            previous = before.rsplit(None, 1)[-1].strip(_PUNCTUATION) if before else ""
            if previous in _GREETINGS:
                return True
            after = lowered[end:].lstrip()[:1]
            if before.endswith(",") and (not after or after in _VOCATIVE_ENDS):
                return True
        at = lowered.find(name, at + 1)
    return False


_GREETINGS = frozenset(
    "hey hi hello hiya howdy thanks thank thx congrats congratulations bye goodbye morning evening dear cheers".split()
)
_VOCATIVE_ENDS = frozenset(",!?.")
_PUNCTUATION = ",.;:!?\"'()"


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


def _diversify(scored: list[tuple[float, str, int]], rows: dict[int, Row], limit: int) -> list[tuple[float, str, int]]:
    """Re-rank so that each further turn of a session counts ``SESSION_DIVERSITY`` times less."""
    picked: list[tuple[float, str, int]] = []
    per_session: dict[str, int] = {}
    pool = list(scored)
    while pool and len(picked) < limit:
        best_index = max(
            range(len(pool)),
            key=lambda i: pool[i][0] * SESSION_DIVERSITY ** per_session.get(rows[pool[i][2]][SESSION_ID], 0),
        )
        item = pool.pop(best_index)
        picked.append(item)
        key = rows[item[2]][SESSION_ID]
        per_session[key] = per_session.get(key, 0) + 1
    return picked + pool


def _dumps(metadata: dict[str, Any]) -> str:
    """The metadata column: ``{}`` without importing a JSON codec for the common empty case."""
    if not metadata:
        return "{}"
    from mem0_hooks import fastjson

    return str(fastjson.dumps(metadata))


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class _Tokens:
    """Porter stems exactly as the index makes them, from a private in-memory FTS5 table with the store's
    tokenizer (the standard library has no stemmer); remembered for the life of the process."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.db.execute(f"CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = '{TOKENIZER}')")
        self.db.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")
        self.known: dict[str, str] = {}
        self.words_of_stem: dict[str, list[str]] = {}  # the other way round
        self.emptied = 0  # how often ``known`` was emptied to make room
        # One in-memory connection shared by the process: threads (the CLI, tests) take turns on it.
        import _thread

        self.lock = _thread.allocate_lock()

    def stem(self, words: Iterable[str]) -> dict[str, str]:
        """{word: stem} for ``words`` (lower-case words as ``split_words`` makes them)."""
        with self.lock:
            return self._stem(list(words))

    def _stem(self, words: list[str]) -> dict[str, str]:
        new = [w for w in dict.fromkeys(words) if w not in self.known]
        if new and len(self.known) + len(new) > KNOWN_STEMS:
            self.known.clear()
            self.words_of_stem.clear()
            self.emptied += 1
            new = list(dict.fromkeys(words))
        if new:
            db = self.db
            db.execute("BEGIN")
            try:
                db.execute("DELETE FROM t")
                db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", [(i + 1, w) for i, w in enumerate(new)])
                first: dict[int, str] = {}
                for doc, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
                    first.setdefault(doc, term)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            for index, word in enumerate(new):
                stem = first.get(index + 1, word)
                self.known[word] = stem
                self.words_of_stem.setdefault(stem, []).append(word)
        return {w: self.known[w] for w in words}

    def scores(
        self,
        words_of: dict[int, tuple[str, ...]],
        weights: dict[str, float],
        unweighted: Mapping[int, Collection[str]] | None = None,
    ) -> dict[int, float]:
        """BM25 of each row's own text against the weighted stems, with a bonus per extra stem matched.

        ``unweighted`` names, for some rows, words that add no weight there but still count as matched
        for the bonus (a name the turn addresses: "Thanks, Sam! The pottery class..."). Other words of
        the same stem ("Rose" and "roses") still count.
        """
        scores = dict.fromkeys(words_of, 0.0)
        if not weights:
            return scores
        unweighted = unweighted or {}
        # A word can only stem to a prompt stem if it starts like one (Porter rewrites only the end
        # of a word, never its first three letters): only the distinct words that do are stemmed. The
        # words known to match are then found from the prompt's stems, not by looking up every word.
        heads = {stem[:3] for stem in weights}
        vocabulary: set[str] = set().union(*words_of.values())
        with self.lock:
            emptied = self.emptied
            self._stem(sorted(w for w in vocabulary.difference(self.known) if w[:3] in heads))
            if self.emptied != emptied:  # what was known before is gone: stem every word that may match
                self._stem(sorted(w for w in vocabulary if w[:3] in heads))
            matching = {
                word: stem
                for stem in weights
                for word in self.words_of_stem.get(stem, ())
                if word in vocabulary and word[:3] in heads
            }
        if not matching:
            return scores
        average = (sum(map(len, words_of.values())) / len(words_of)) or 1.0
        for rowid, words in words_of.items():
            found = matching.keys() & words
            if not found:
                continue
            counts: dict[str, int] = {}
            for word in found:
                stem = matching[word]
                counts[stem] = counts.get(stem, 0) + words.count(word)
            for word in set(unweighted.get(rowid, ())):
                if word in found:
                    counts[matching[word]] = max(counts[matching[word]] - words.count(word), 0)
            norm = K1 * (1.0 - B + B * len(words) / average)
            score = sum(weights[stem] * tf * (K1 + 1.0) / (tf + norm) for stem, tf in counts.items())
            if len(counts) > 1:
                score *= 1.0 + COORDINATION * (len(counts) - 1)
            scores[rowid] = score
        return scores


_TOKENS: _Tokens | None = None


def _tokens() -> _Tokens:
    global _TOKENS
    if _TOKENS is None:
        _TOKENS = _Tokens()
    return _TOKENS


def _memory(row: Row | sqlite3.Row, score: float | None = None) -> Memory:
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
