"""Past Claude Code sessions into the store, and memories out of it as JSON Lines.

``mem0-hooks import`` reads Claude Code's transcripts (``<config dir>/projects/*/*.jsonl``, the config
dir being ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``) and stores every turn the hooks would have captured,
by the hooks' own rules: ``transcript.parse_lines`` says what a turn is, ``project.project_of`` which
project it belongs to (from the line's ``cwd``), ``gates.capture_refusal`` whether it may be captured,
and ``capture.make_item`` redacts it and gives it the id the hooks give it. The session is the
transcript's file name, as the hooks' ``session_id`` is, and a turn's ``seq`` is its place in the
transcript (numbered around the session's turns already stored, ``fit_seqs``). So a turn the hooks
captured already is the same memory, and storing it again changes nothing; a turn imported twice is
one memory. The vectors for recall by meaning are made afterwards, in the background
(``after_storing``).

Where the turns go:

* the local store: straight in (``LocalStore.add``), in transactions of at most ``BATCH_TURNS`` turns
  (a few tens of milliseconds each), so the hooks' flusher never waits long for the write lock and
  searches read a consistent store throughout (WAL). ``INSERT OR IGNORE`` on the id makes a rerun, or
  a run after a kill, store exactly what is missing.
* a remote store: through the durable queue, in chunks that are drained at once under the flush lock
  (``QueueSink``); the delivery ledger makes each id reach the store once.

``mem0-hooks import --from FILE`` reads back what ``export`` wrote (``read_export``); ``migrate``
(``mem0_hooks.migrate``) moves the local store into a remote one with ``QueueSink``.

Nothing here is imported on a hook's path.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from mem0_hooks import capture, gates, paths, queue
from mem0_hooks import fastjson as json
from mem0_hooks import project as projects
from mem0_hooks.errors import BackendError, Mem0HooksError, QueueError
from mem0_hooks.transcript import Turn, parse_lines

READ_BYTES = 4 * 1024 * 1024  # one read of a transcript
MAX_LINE_BYTES = 32 * 1024 * 1024  # a longer line is skipped unread (the hooks read at most this much at once)
BATCH_TURNS = 500  # turns per local-store transaction: ~50 ms, so the hooks' flusher never waits long
BATCH_CHARS = 2_000_000  # ... or this much text, whichever comes first
QUEUE_CHUNK = 100  # items enqueued at a time for a remote store, then delivered

# Reasons, as the summary prints them.
BEFORE_SINCE = "before --since"
RETENTION = "older than privacy.auto_delete_after_days"
EMPTY = "nothing left after redaction"
NO_CWD = "no working directory in the transcript"
INVALID_MEMORY = "not a memory (id, text, role, created_at missing)"
INCOMPLETE = "incomplete last line"
TOO_LONG = f"longer than {MAX_LINE_BYTES // (1024 * 1024)} MB"


class ImportRefused(Mem0HooksError):
    """Nothing may be imported at all (no consent, capture switched off or paused everywhere)."""


class Stopped(Mem0HooksError):
    """The import (or migration) cannot go on: the disk is full, the store failed. A rerun continues it."""


class Tally:
    """What an import read, stored, skipped and why; printed as its summary."""

    def __init__(self) -> None:
        self.source = ""  # what was read: the projects directory, or the export file
        self.destination = ""  # where it went, in words ("the local store (<path>)")
        self.from_export = False
        self.missing_source = False
        self.files = 0  # transcripts found
        self.files_read = 0
        self.files_unchanged = 0  # not read: not modified since --since
        self.bytes_total = 0
        self.bytes_read = 0
        self.turns = 0  # turns found that belong to the import (all projects, or --project's)
        self.stored = 0  # new in the store (a dry run: would be)
        self.present = 0  # already in the store
        self.failed = 0  # remote store: not delivered (kept in the queue, or dead-lettered)
        self.dead = 0  # remote store: of those, dead-lettered (the store refused them)
        self.sending = 0  # remote store: delivered so far by the delivery under way (for progress)
        self.vectors_pending = False  # local store: the background flusher was started to embed the new turns
        self.skipped: dict[str, int] = {}
        self.bad_lines: dict[str, int] = {}
        self.bad_files: dict[str, int] = {}
        self.projects: dict[str, ProjectTally] = {}
        self.stopped: str | None = None
        self.started = time.monotonic()
        self.seconds = 0.0
        self.progress: Callable[[Tally], None] | None = None  # called after every block read

    def tick(self) -> None:
        if self.progress is not None:
            self.progress(self)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def bad_file(self, reason: str) -> None:
        self.bad_files[reason] = self.bad_files.get(reason, 0) + 1

    def project(self, name: str) -> ProjectTally:
        found = self.projects.get(name)
        if found is None:
            found = self.projects[name] = ProjectTally()
        return found

    def as_dict(self) -> dict[str, Any]:
        """The summary for ``--json``."""
        return {
            "source": self.source,
            "source_missing": self.missing_source,
            "files": self.files,
            "files_read": self.files_read,
            "files_unchanged_since": self.files_unchanged,
            "bytes": self.bytes_read,
            "turns": self.turns,
            "stored": self.stored,
            "already_present": self.present,
            "not_delivered": self.failed,
            "dead_lettered": self.dead,
            "skipped": dict(sorted(self.skipped.items())),
            "bad_lines": dict(sorted(self.bad_lines.items())),
            "bad_files": dict(sorted(self.bad_files.items())),
            "projects": {name: p.as_dict() for name, p in sorted(self.projects.items())},
            "stopped": self.stopped,
            "vectors_in_background": self.vectors_pending,
            "seconds": round(self.seconds, 3),
        }


class ProjectTally:
    """Per project: turns new and already there, sessions, the time span."""

    __slots__ = ("stored", "present", "sessions", "first", "last")

    def __init__(self) -> None:
        self.stored = 0
        self.present = 0
        self.sessions: set[str] = set()
        self.first = ""
        self.last = ""

    def saw(self, session_id: str, created_at: str) -> None:
        self.sessions.add(session_id)
        if not self.first or created_at < self.first:
            self.first = created_at
        if created_at > self.last:
            self.last = created_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "already_present": self.present,
            "sessions": len(self.sessions),
            "first": self.first,
            "last": self.last,
        }


# -- where Claude Code keeps its transcripts -------------------------------------------------------------
def projects_dir() -> str:
    """``$CLAUDE_CONFIG_DIR/projects``, else ``~/.claude/projects`` (where Claude Code writes transcripts)."""
    config_dir = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return os.path.join(config_dir, "projects")


class Transcript:
    """One ``<projects>/<project dir>/<session>.jsonl`` as found (size and mtime of the directory entry)."""

    __slots__ = ("path", "size", "mtime")

    def __init__(self, path: str, size: int, mtime: float) -> None:
        self.path, self.size, self.mtime = path, size, mtime

    @property
    def session_id(self) -> str:
        """The hooks' ``session_id`` for this file: Claude Code names a transcript after its session."""
        return os.path.basename(self.path)[: -len(".jsonl")]


def find_transcripts(root: str, tally: Tally) -> list[Transcript]:
    """The session transcripts under ``root``, in path order: ``root/*/*.jsonl`` (subagent transcripts,
    one level further down, are sidechains the hooks skip too). A missing ``root`` gives none."""
    found: list[Transcript] = []
    try:
        with os.scandir(root) as top:
            folders = sorted(e.path for e in top if e.is_dir())
    except FileNotFoundError:
        tally.missing_source = True
        return found
    except NotADirectoryError:
        tally.missing_source = True
        return found
    except OSError:
        tally.bad_file("unreadable projects directory")
        return found
    for folder in folders:
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if e.name.endswith(".jsonl")), key=lambda e: e.name)
                for entry in entries:
                    try:
                        st = entry.stat()
                    except OSError:
                        found.append(Transcript(entry.path, 0, 0.0))  # (counted when it cannot be opened)
                        continue
                    size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                    found.append(Transcript(entry.path, size, st.st_mtime))
        except OSError:
            tally.bad_file("unreadable project directory")
    return found


# -- reading one transcript ------------------------------------------------------------------------------
def read_turns(path: str, tally: Tally) -> Iterator[Turn]:
    """The turns of one transcript by the hooks' rules, read in blocks of ``READ_BYTES``.

    Never blocks and never raises for a bad file: a directory, a FIFO (opened non-blocking) or a file
    that cannot be opened is counted in ``tally.bad_files``; lines that cannot be read in
    ``tally.bad_lines`` (invalid JSON or UTF-8, longer than ``MAX_LINE_BYTES``, an incomplete last line,
    which a session still being written may have). The file is only ever read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        tally.bad_file(_open_failure(exc))
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            tally.bad_file("not a regular file")
            return
        tally.files_read += 1
        held: list[Turn] = []  # the last turn read: the next block may continue its API message
        try:
            for lines in _line_blocks(fd, tally):
                turns = parse_lines(lines, bad=tally.bad_lines, turns=held)
                held = turns[-1:]
                yield from turns[:-1]
        except OSError:
            tally.bad_file("read error")
            return  # the held turn may be missing its end: never a partial memory
        yield from held
    finally:
        os.close(fd)


def _open_failure(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "unreadable (permission denied)"
    if isinstance(exc, FileNotFoundError):
        return "gone before it was read"
    return f"unreadable ({exc.strerror or exc})"


def _line_blocks(fd: int, tally: Tally) -> Iterator[list[bytes]]:
    """The complete lines of the file, a block at a time; a line longer than ``MAX_LINE_BYTES`` is
    skipped without being held in memory whole."""
    parts: list[bytes] = []  # the start of a line that continues in the next read
    pending = 0  # its length
    skipping = False  # inside a line that is too long
    while True:
        block = os.read(fd, READ_BYTES)
        if not block:
            break
        tally.bytes_read += len(block)
        tally.tick()
        if skipping:
            cut = block.find(b"\n")
            if cut < 0:
                continue
            block = block[cut + 1 :]
            skipping = False
        end = block.rfind(b"\n")
        if end < 0:
            parts.append(block)
            pending += len(block)
            if pending > MAX_LINE_BYTES:
                _count(tally.bad_lines, TOO_LONG)
                parts, pending, skipping = [], 0, True
            continue
        head = block[: end + 1]
        if parts:
            parts.append(head)
            head = b"".join(parts)
            parts, pending = [], 0
        lines = head.split(b"\n")
        lines.pop()  # the empty piece after the last newline
        if any(len(line) > MAX_LINE_BYTES for line in lines):
            _count(tally.bad_lines, TOO_LONG)
            lines = [line for line in lines if len(line) <= MAX_LINE_BYTES]
        rest = block[end + 1 :]
        if rest:
            parts, pending = [rest], len(rest)
        yield lines
    if parts and b"".join(parts).strip():
        _count(tally.bad_lines, INCOMPLETE)


def _count(counts: dict[str, int], reason: str) -> None:
    counts[reason] = counts.get(reason, 0) + 1


def _iso(unix: float) -> str:
    """A unix time as the transcripts write times (``2026-11-20T10:00:05.123Z``)."""
    whole = int(unix)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((unix - whole) * 1000):03d}Z"


# -- the rules a turn passes -------------------------------------------------------------------------------
class Rules:
    """What may be imported: consent, exclusions, pauses, retention, ``--project`` and ``--since``.

    ``project_of`` and the gates are asked once per working directory and project: they look at the
    file system, and a history has thousands of turns per directory.
    """

    def __init__(self, config: dict[str, Any], *, project: str | None = None, since: str | None = None) -> None:
        from mem0_hooks import config as config_mod

        if not config_mod.capture_allowed(config):
            if not config["memory"]["auto_store"]:
                raise ImportRefused("capture is switched off (memory.auto_store: false): nothing may be stored")
            raise ImportRefused(
                "no consent to store conversations yet: run `mem0-hooks config set privacy.consent_given true` first"
            )
        if gates.read_pauses()["global"]:
            raise ImportRefused("capture is paused everywhere: `mem0-hooks resume` restarts it")
        self.config = config
        self.only = project
        self.since = since
        days = config["privacy"]["auto_delete_after_days"]
        self.cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400)) if days else ""
        self._projects: dict[str, str] = {}
        self._refusals: dict[str, str | None] = {}

    def project_of(self, cwd: str) -> str:
        found = self._projects.get(cwd)
        if found is None:
            found = self._projects[cwd] = projects.project_of(cwd)  # the hooks' own identity, always
        return found

    def refusal(self, project: str, created_at: str) -> str | None:
        """Why a turn of ``project`` made at ``created_at`` is not imported (None: it is)."""
        if project not in self._refusals:
            self._refusals[project] = gates.capture_refusal(self.config, project)
        reason = self._refusals[project]
        if reason is not None:
            return reason
        if self.since and created_at < self.since:
            return BEFORE_SINCE
        if self.cutoff and created_at < self.cutoff:
            return RETENTION
        return None


def transcript_items(
    transcript: Transcript, rules: Rules, tally: Tally, stored: dict[str, int] | None = None
) -> Iterator[dict[str, Any]]:
    """Queue items for the turns of one transcript that the rules let through.

    ``stored`` maps the ids of this session's turns already in the store to their seq; when there
    are any, the new turns are numbered around them (``fit_seqs``)."""
    if stored:
        items = list(transcript_items(transcript, rules, tally))
        fit_seqs(items, stored)
        yield from items
        return
    session_id = transcript.session_id
    fallback_time = _iso(transcript.mtime)  # a line without a time: when the file was last written
    config = rules.config
    seq = 0
    cwd = ""
    for turn in read_turns(transcript.path, tally):
        seq += 1  # the turn's place in its session, as the hooks count (skipped turns included)
        cwd = turn.cwd or cwd
        if not cwd:
            tally.turns += 1
            tally.skip(NO_CWD)
            continue
        project = rules.project_of(cwd)
        if rules.only is not None and project != rules.only:
            continue
        tally.turns += 1
        created_at = turn.timestamp or fallback_time
        reason = rules.refusal(project, created_at)
        if reason is not None:
            tally.skip(reason)
            continue
        item = capture.make_item(
            text=turn.text,
            role=turn.role,
            session_id=session_id,
            project=project,
            seq=seq,
            created_at=created_at,
            config=config,
        )
        if item is None:
            tally.skip(EMPTY)
            continue
        yield item


def fit_seqs(items: list[dict[str, Any]], stored: dict[str, int]) -> None:
    """Number the new turns of a session the store already holds turns of, so they sort among them
    in transcript order (a store orders a session by seq).

    A turn's seq is its place in the transcript, and so is the seq of a turn an earlier import
    stored; the hooks number from where they started capturing (a session that was already under way,
    more than they read at once). Stored turns are anchors (the first turn with each id): a new turn
    before the first anchor counts back from it, one after the last counts on from it, and one
    between two anchors takes the seq of the one before it (the store then orders by rowid, which is
    insertion order). For a session an interrupted import left half stored, this gives exactly the
    numbers a clean run gives."""
    anchors: list[tuple[int, int]] = []  # (place in the transcript, stored seq)
    seen: set[str] = set()
    for item in items:
        if item["id"] in stored and item["id"] not in seen:
            anchors.append((item["seq"], stored[item["id"]]))
        seen.add(item["id"])
    if not anchors:
        return
    import bisect

    places = [place for place, _ in anchors]
    for item in items:
        if item["id"] in stored:
            continue
        place = item["seq"]
        before = bisect.bisect_left(places, place) - 1
        if before < 0:
            item["seq"] = anchors[0][1] - (anchors[0][0] - place)
        elif before == len(anchors) - 1:
            item["seq"] = anchors[-1][1] + (place - anchors[-1][0])
        else:
            item["seq"] = anchors[before][1]


# -- reading an export ------------------------------------------------------------------------------------
_TEXT_FIELDS = ("id", "text", "role", "created_at")


def read_export(fh: IO[bytes], rules: Rules, tally: Tally) -> Iterator[dict[str, Any]]:
    """Queue items for the memories in a file ``export`` wrote (JSON Lines), by the same rules as
    transcripts. Ids are kept (a second import of the file adds nothing); text is redacted again with
    this machine's patterns."""
    from mem0_hooks.redact import scrub

    patterns = rules.config["privacy"]["redact_patterns"]
    tally.from_export = True
    tally.files += 1
    tally.files_read += 1
    for raw in _export_lines(fh, tally):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            _count(tally.bad_lines, "invalid UTF-8" if isinstance(exc, UnicodeDecodeError) else "invalid JSON")
            continue
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in _TEXT_FIELDS):
            _count(tally.bad_lines, INVALID_MEMORY)
            continue
        project = record.get("project") if isinstance(record.get("project"), str) else ""
        if rules.only is not None and project != rules.only:
            continue
        tally.turns += 1
        scope = "user" if record.get("scope") == "user" else "project"
        reason = rules.refusal(project, record["created_at"]) if project else _user_refusal(rules, record)
        if reason is not None:
            tally.skip(reason)
            continue
        text = scrub(record["text"], patterns).strip()
        if not text:
            tally.skip(EMPTY)
            continue
        seq = record.get("seq")
        metadata = record.get("metadata")
        session_id = record.get("session_id")
        yield {
            "id": record["id"],
            "text": text,
            "role": record["role"],
            "created_at": record["created_at"],
            "session_id": session_id if isinstance(session_id, str) else "",
            "project": project,
            "scope": scope,
            "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) else 0,
            "metadata": metadata if isinstance(metadata, dict) else {},
        }


def _user_refusal(rules: Rules, record: dict[str, Any]) -> str | None:
    """A user-wide memory (no project) passes the time rules only."""
    created_at = record["created_at"]
    if rules.since and created_at < rules.since:
        return BEFORE_SINCE
    if rules.cutoff and created_at < rules.cutoff:
        return RETENTION
    return None


def _export_lines(fh: IO[bytes], tally: Tally) -> Iterator[bytes]:
    """Lines of an export file, as ``_line_blocks`` reads a transcript (bounded lines, counted bytes)."""
    fd = fh.fileno()
    for lines in _line_blocks(fd, tally):
        yield from lines


# -- where items go ---------------------------------------------------------------------------------------
class LocalSink:
    """Items into the local store in short transactions; a dry run only looks up which ids are there."""

    def __init__(self, tally: Tally, *, config: dict[str, Any], dry_run: bool = False, path: str | None = None) -> None:
        from mem0_hooks.backends.base import MemoryItem

        self._item = MemoryItem.from_dict
        self.config = config
        self.tally = tally
        self.dry_run = dry_run
        self.path = path or paths.store_db()
        self.store: Any = None
        self.batch: list[dict[str, Any]] = []
        self.chars = 0
        self.seen: set[str] = set()  # a dry run's ids so far (it stores nothing to ask about)
        tally.destination = f"the local store ({self.path})"
        if not dry_run:
            from mem0_hooks.backends.local import LocalStore

            self.store = LocalStore(self.path)

    def put(self, item: dict[str, Any]) -> None:
        self.batch.append(item)
        self.chars += len(item["text"])
        if len(self.batch) >= BATCH_TURNS or self.chars >= BATCH_CHARS:
            self.flush()

    def flush(self) -> None:
        batch, self.batch, self.chars = self.batch, [], 0
        if not batch:
            return
        # (Which ids are there is asked first, for the counts; the store's own INSERT OR IGNORE is
        # what keeps an id from being stored twice, whoever else writes meanwhile.)
        known = self._known({item["id"] for item in batch} - self.seen)
        if not self.dry_run:
            try:
                self.store.add([self._item(item) for item in batch])
            except BackendError as exc:
                raise Stopped(_store_failure(exc, self.path)) from exc
        counted = self.seen if self.dry_run else set()  # a turn repeated in a session is one memory
        for item in batch:
            self._count(item, present=item["id"] in known or item["id"] in counted)
            counted.add(item["id"])

    def stored_seqs(self, session_id: str) -> dict[str, int]:
        """``{id: seq}`` of the session's turns in the store (one indexed read per transcript; a session
        is one transcript, so none of its turns waits in the batch)."""
        db = self.store.db if self.store is not None else _read_only(self.path)
        if db is None:
            return {}
        try:
            return {
                row[0]: row[1] for row in db.execute("SELECT id, seq FROM memories WHERE session_id = ?", (session_id,))
            }
        finally:
            if self.store is None:
                db.close()

    def _count(self, item: dict[str, Any], *, present: bool) -> None:
        project = self.tally.project(item["project"] or "(user-wide)")
        project.saw(item["session_id"], item["created_at"])
        if present:
            self.tally.present += 1
            project.present += 1
        else:
            self.tally.stored += 1
            project.stored += 1

    def _known(self, ids: set[str]) -> set[str]:
        """Which of ``ids`` the store holds (read only; no store yet: none)."""
        if not ids:
            return set()
        db = self.store.db if self.store is not None else _read_only(self.path)
        if db is None:
            return set()
        known: set[str] = set()
        listed = list(ids)
        for at in range(0, len(listed), 500):
            chunk = listed[at : at + 500]
            marks = ",".join("?" * len(chunk))
            known.update(row[0] for row in db.execute(f"SELECT id FROM memories WHERE id IN ({marks})", chunk))
        if self.store is None:
            db.close()
        return known

    def close(self) -> None:
        """Store what is left, merge the index's pieces, and hand the new turns to vector backfill."""
        try:
            self.flush()
            if self.store is not None and self.tally.stored:
                try:
                    self.store.tidy()
                except BackendError:
                    pass  # a busy store: the next flush merges the pieces; search works unmerged
                self.tally.vectors_pending = after_storing(self.config, self.tally.stored)
        finally:
            if self.store is not None:
                self.store.close()


def _read_only(path: str, table: str = "memories") -> Any:
    """A read-only connection to the SQLite file at ``path`` (the store; the delivery ledger with
    ``table="deliveries"``), or None when there is none or it has no ``table`` (a dry run creates nothing)."""
    import sqlite3

    if not os.path.exists(path):
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        db.execute(f"SELECT 1 FROM {table} LIMIT 1")
    except sqlite3.Error:
        return None
    return db


def _store_failure(exc: BackendError, path: str) -> str:
    message = str(exc)
    if "disk is full" in message or "disk I/O error" in message:
        return (
            f"the disk is full: the local store {path} cannot grow ({message}). Free some space and run the "
            "same command again: it stores only what is missing"
        )
    return f"{message}. Run the same command again once it is fixed: it stores only what is missing"


def after_storing(config: dict[str, Any], count: int) -> bool:
    """Semantic recall for what was just stored: the imported turns have no vectors yet. The import
    never computes them (it is I/O and indexing, and must not wait for an embedding model): it starts
    the background flusher, which gives every memory without a vector one once the queue is empty
    (``flush.embed_local``). True when it was asked to; ``mem0-hooks reindex`` does it at once."""
    if not count or not config["memory"].get("semantic", True):
        return False
    from mem0_hooks import flush, vectors

    if not vectors.stamp():
        return False  # no embedding model installed: recall is by words (doctor says so)
    flush.spawn()
    return True


class QueueSink:
    """Items to a remote store through the durable queue: ``QUEUE_CHUNK`` at a time are enqueued, then
    delivered at once under the flush lock, which this holds throughout (hooks' own items in the queue
    go along: they are for the same store). An id the ledger says was delivered to this store is not
    enqueued again; one enqueued twice is acknowledged the second time without being sent."""

    def __init__(
        self,
        config: dict[str, Any],
        tally: Tally,
        *,
        dry_run: bool = False,
    ) -> None:
        from mem0_hooks import flush

        self.config = config
        self.tally = tally
        self.dry_run = dry_run
        self.batch: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.backend: Any = None
        self.mirror: Any = None
        self.ledger: Any = None
        self.lock: Any = None
        self.delivered_db: Any = None
        try:
            if dry_run:  # (no local mirror either: a dry run creates nothing)
                from mem0_hooks.backends import open_backend

                self.backend = open_backend(config)
                self.target = flush.target_of(self.backend, config)
                self.delivered_db = _read_only(os.path.join(paths.queue_dir(), "delivered.sqlite3"), "deliveries")
            else:
                self.backend, self.mirror = flush.open_targets(config)
                self.target = flush.target_of(self.backend, config)
                self.lock = flush.take_lock(quiet=True)
                self.ledger = flush.Ledger(self.target)
        except BaseException:
            self._release()
            raise
        url = getattr(self.backend, "base_url", "")
        tally.destination = f"the {self.backend.name} store" + (f" at {url}" if url else "")

    def _delivered(self, item_id: str) -> bool:
        from mem0_hooks.flush import DELIVERED

        if self.ledger is not None:
            return bool(self.ledger.state(item_id) == DELIVERED)
        if self.delivered_db is None:
            return False
        row = self.delivered_db.execute(
            "SELECT state FROM deliveries WHERE id = ? AND target = ?", (item_id, self.target)
        ).fetchone()
        return bool(row and row[0] == DELIVERED)

    def put(self, item: dict[str, Any]) -> None:
        project = self.tally.project(item["project"] or "(user-wide)")
        project.saw(item["session_id"], item["created_at"])
        if item["id"] in self.seen or self._delivered(item["id"]):
            self.tally.present += 1
            project.present += 1
            return
        self.seen.add(item["id"])
        if self.dry_run:
            self.tally.stored += 1
            project.stored += 1
            return
        self.batch.append(item)
        if len(self.batch) >= QUEUE_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Enqueue the batch and deliver the queue now; ``Stopped`` when the store or the disk fails."""
        from mem0_hooks import flush

        batch, self.batch = self.batch, []
        if not batch or self.dry_run:
            return
        try:
            capture.enqueue_items(batch, self.config)
        except QueueError as exc:
            raise Stopped(
                f"cannot write the queue: {exc}. Free some space (or let `mem0-hooks replay` drain the queue) "
                "and run the same command again: it sends only what is missing"
            ) from exc
        result = flush.drain(
            self.backend,
            self.config,
            ignore_backoff=True,
            mirror=self.mirror,
            progress=self._delivering,
        )
        self.tally.sending = 0
        flush.record_result(result)
        self.tally.dead += result.dead
        for item in batch:
            project = self.tally.project(item["project"] or "(user-wide)")
            if self._delivered(item["id"]):
                self.tally.stored += 1
                project.stored += 1
            else:
                self.tally.failed += 1
        if result.stopped == "unavailable":
            raise Stopped(
                f"the {self.backend.name} store is unavailable: {result.errors[-1]}. What was not delivered "
                "waits in the queue; run the same command again once the store is back"
            )
        if result.stopped == "queue":
            raise Stopped(f"the queue cannot be written: {result.errors[-1]}; run the same command again")

    def stored_seqs(self, session_id: str) -> dict[str, int]:
        """A remote store orders nothing by seq: its items keep their place in the transcript."""
        return {}

    def _delivering(self, result: Any, _remaining: int) -> None:
        self.tally.sending = result.delivered + result.duplicates
        self.tally.tick()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._release()

    def _release(self) -> None:
        from mem0_hooks import flush

        if self.ledger is not None:
            self.ledger.close()
        if self.delivered_db is not None:
            self.delivered_db.close()
        if self.lock is not None and self.lock.is_locked:
            if self.mirror is not None:
                flush.tidy_local(self.mirror)
            self.lock.release()
            if queue.depth() and queue.root() == paths.queue_dir():
                flush.spawn()  # hooks' items that came in after the last delivery
        flush.close_targets(self.backend, self.mirror)


def open_sink(config: dict[str, Any], tally: Tally, *, dry_run: bool = False) -> LocalSink | QueueSink:
    """Where imported items go: the local store directly, a remote one through the queue."""
    if config["backend"] == "local":
        return LocalSink(tally, config=config, dry_run=dry_run)
    return QueueSink(config, tally, dry_run=dry_run)


# -- the imports -------------------------------------------------------------------------------------------
Progress = Callable[[Tally], None]


def import_transcripts(
    config: dict[str, Any],
    *,
    root: str | None = None,
    project: str | None = None,
    since: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Tally:
    """Import Claude Code's transcripts under ``root`` (default ``projects_dir()``) into the configured
    store. ``project`` (as ``project_of`` names it) keeps one project's turns; ``since``
    (``YYYY-MM-DDTHH:MM:SS``, UTC) the turns from then on. Raises ``ImportRefused``; a stop (full
    disk, failing store) is in ``tally.stopped``."""
    tally = Tally()
    tally.source = root or projects_dir()
    rules = Rules(config, project=project, since=since)
    transcripts = find_transcripts(tally.source, tally)
    tally.files = len(transcripts)
    tally.bytes_total = sum(t.size for t in transcripts)
    since_unix = _unix(since) if since else None
    sink = open_sink(config, tally, dry_run=dry_run)
    _run(sink, tally, progress, _transcripts_items(transcripts, rules, tally, since_unix, sink.stored_seqs))
    return tally


def _transcripts_items(
    transcripts: list[Transcript],
    rules: Rules,
    tally: Tally,
    since_unix: float | None,
    stored_seqs: Callable[[str], dict[str, int]],
) -> Iterator[dict[str, Any]]:
    for transcript in transcripts:
        if since_unix is not None and transcript.mtime and transcript.mtime < since_unix:
            tally.files_unchanged += 1  # nothing written since: every line is older
            tally.bytes_total -= transcript.size
            continue
        yield from transcript_items(transcript, rules, tally, stored_seqs(transcript.session_id))


def import_export_file(
    config: dict[str, Any],
    fh: IO[bytes],
    *,
    name: str,
    project: str | None = None,
    since: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Tally:
    """Import the memories of an ``export`` file (open in binary) into the configured store."""
    tally = Tally()
    tally.source = name
    try:
        tally.bytes_total = os.fstat(fh.fileno()).st_size
    except (OSError, ValueError):
        tally.bytes_total = 0
    rules = Rules(config, project=project, since=since)
    sink = open_sink(config, tally, dry_run=dry_run)
    _run(sink, tally, progress, read_export(fh, rules, tally))
    return tally


def _run(sink: LocalSink | QueueSink, tally: Tally, progress: Progress | None, items: Iterable[dict[str, Any]]) -> None:
    tally.progress = progress
    try:
        try:
            for item in items:
                sink.put(item)
        finally:
            sink.close()  # a stop or an interrupt still stores the whole turns read so far
    except Stopped as exc:
        tally.stopped = str(exc)
    finally:
        tally.seconds = time.monotonic() - tally.started
        if progress is not None:
            progress(tally)


def _unix(iso: str) -> float:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC, as ``since`` is given) as a unix time."""
    import calendar

    return float(calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")))


# -- export ------------------------------------------------------------------------------------------------
EXPORT_FIELDS = ("id", "text", "role", "created_at", "session_id", "project", "scope", "seq", "metadata")


def export_memories(config: dict[str, Any], out: IO[bytes], *, project: str | None = None) -> int:
    """Write every memory of the configured store (or ``project``'s) to ``out`` as JSON Lines, oldest
    first, with every field (``EXPORT_FIELDS``, and ``added_at`` for the local store); returns the count.

    A remote store's memories carry our id (``metadata.mem0_hooks_id``) when mem0-hooks wrote them:
    that is the ``id`` exported, so importing the file into a local store does not double what it has.
    """
    if config["backend"] == "local":
        return _export_local(out, project)
    from mem0_hooks.backends import open_backend

    backend = open_backend(config)
    try:
        memories = backend.list(project=project)
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    count = 0
    for memory in reversed(memories):  # list() is newest first
        metadata = dict(memory.metadata or {})
        seq = metadata.get("seq")
        record = {
            "id": str(metadata.get("mem0_hooks_id") or memory.id),
            "text": memory.text,
            "role": memory.role,
            "created_at": memory.created_at,
            "session_id": memory.session_id,
            "project": memory.project,
            "scope": memory.scope,
            "seq": seq if isinstance(seq, int) else 0,
            "metadata": metadata,
            "remote_id": memory.id,
        }
        out.write(_json_line(record))
        count += 1
    return count


def _json_line(record: dict[str, Any]) -> bytes:
    """One JSON Lines line, UTF-8; text with a lone surrogate (a JSON escape in a transcript can make
    one) is written escaped, so the line still reads back exactly."""
    try:
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, separators=(",", ":")) + "\n").encode("ascii")


def _export_local(out: IO[bytes], project: str | None) -> int:
    from mem0_hooks.backends.local import LocalStore

    path = paths.store_db()
    if not os.path.exists(path):
        return 0
    store = LocalStore(path)
    count = 0
    try:
        sql = f"SELECT {', '.join(EXPORT_FIELDS)}, added_at FROM memories"
        args: tuple[Any, ...] = ()
        if project is not None:
            sql += " WHERE project = ?"
            args = (project,)
        cursor = store.db.cursor()
        cursor.row_factory = None
        for row in cursor.execute(sql + " ORDER BY rowid", args):
            record = dict(zip(EXPORT_FIELDS, row[:-1], strict=True))
            try:
                record["metadata"] = json.loads(record["metadata"] or "{}")
            except ValueError:
                record["metadata"] = {}
            record["added_at"] = row[-1]
            out.write(_json_line(record))
            count += 1
    finally:
        store.close()
    return count
