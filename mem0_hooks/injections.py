"""The record of injections: what each SessionStart and UserPromptSubmit block gave Claude, and why.

One JSON line per injected block, appended to ``injections.jsonl`` in the data dir (0600) once the
hook has answered (``runner.after_reply``): when, which event, the session, the project, the prompt's
first words (from the prompt as scrubbed for the search: secrets and ``<private>`` spans are already
markers), the block's size, and for each memory shown its id, its length and the score that ranked it.
No memory text is kept here: a forgotten memory leaves only its id. ``mem0-hooks last`` and the viewer
(``mem0-hooks ui``) read it; ``memory.record_injections: false`` stops it.

Bounded: once the file reaches ``SEGMENT_BYTES`` it becomes ``injections.1.jsonl`` (replacing the one
before), so at most twice that is on disk: about 1,900 to 3,800 records of a full block (30 memories,
1.3 KB a line), more of smaller ones. The reader shows the newest.

Many writers at once (hooks of parallel sessions, the warm process): each record is one ``write`` to a
file opened ``O_APPEND``, which the kernel does not interleave with another writer's. The writer whose
``write`` takes the file past its size renames it, under a lock and after looking at the size again, so
one writer rotates; one that opened the file just before the rename appends to the older file, which is
still read. Nothing is read or counted to decide: a record costs an open, a write, an ``fstat`` and a
close. A reader skips a line it cannot parse.

Imported by hooks after they answered: ``os``, ``time`` and ``fastjson`` only (``fcntl`` when rotating).
"""

from __future__ import annotations

import os
import time

from mem0_hooks import fastjson, paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from mem0_hooks.backends.base import Memory

SEGMENT_BYTES = 2_500_000  # one file's size before it is rotated; two files are kept
PROMPT_WORDS = 16
PROMPT_CHARS = 160


def path() -> str:
    return os.path.join(paths.home(), "injections.jsonl")


def older_path() -> str:
    return os.path.join(paths.home(), "injections.1.jsonl")


def _lock_path() -> str:
    return os.path.join(paths.home(), "injections.lock")


def first_words(text: str) -> str:
    """The first ``PROMPT_WORDS`` words of ``text`` on one line, at most ``PROMPT_CHARS`` characters."""
    words = text.split(None, PROMPT_WORDS)
    cut = len(words) > PROMPT_WORDS
    line = " ".join(words[:PROMPT_WORDS])
    if len(line) > PROMPT_CHARS:
        line, cut = line[: PROMPT_CHARS - 1].rstrip(), True
    return line + "\u2026" if cut else line


def record(
    event: str,
    *,
    session_id: str,
    project: str,
    shown: Iterable[Memory],
    block_chars: int,
    prompt: str = "",
    source: str = "",
) -> None:
    """Append the record of one injected block. ``prompt`` must already be scrubbed (the search text)."""
    entry: dict[str, Any] = {
        "at": round(time.time(), 3),
        "event": event,
        "session": session_id,
        "project": project,
        "chars": block_chars,
        "memories": [[m.id, len(m.text), None if m.score is None else round(float(m.score), 4)] for m in shown],
    }
    if prompt:
        entry["prompt"] = first_words(prompt)
    if source:
        entry["source"] = source
    append(entry)


def append(entry: dict[str, Any]) -> None:
    """One line, one ``write``; rotates when the file is full. OSError is the caller's (a hook logs it)."""
    data = (fastjson.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8", "replace")
    where = path()
    try:
        fd = os.open(where, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except FileNotFoundError:
        paths.ensure_private_dir(os.path.dirname(where))
        fd = os.open(where, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size >= SEGMENT_BYTES:
        _rotate()


class _Locked:
    """The rotation lock (``flock`` on ``injections.lock``): one process rotates or rewrites at a time."""

    def __enter__(self) -> _Locked:
        import fcntl

        self.fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # releases the lock


def _rotate() -> None:
    with _Locked():
        try:
            full = os.stat(path()).st_size >= SEGMENT_BYTES  # again, under the lock: another may have rotated
        except FileNotFoundError:
            return
        if full:
            os.replace(path(), older_path())


def _parse(name: str) -> list[dict[str, Any]]:
    """The records of one file, oldest first; unreadable lines are skipped."""
    try:
        with open(name, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return []
    import json

    out = []
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn or foreign line
        if isinstance(entry, dict) and isinstance(entry.get("at"), (int, float)):
            out.append(entry)
    return out


def read(
    limit: int | None = None,
    *,
    session: str | None = None,
    project: str | None = None,
    newer_than: float | None = None,
) -> list[dict[str, Any]]:
    """Records, newest first (of ``session`` / ``project`` when given; after ``newer_than`` when given)."""
    entries = _parse(older_path()) + _parse(path())
    entries.reverse()  # appended in order: newest first, and a stable sort keeps that among equal times
    entries.sort(key=lambda e: e["at"], reverse=True)
    out = []
    for entry in entries:
        if newer_than is not None and entry["at"] < newer_than:
            break
        if session is not None and entry.get("session") != session:
            continue
        if project is not None and entry.get("project") != project:
            continue
        out.append(entry)
        if limit is not None and len(out) >= limit:
            break
    return out


def stamp() -> tuple[tuple[int, int, int] | None, ...]:
    """Changes whenever a record is added or the files rotate (a reader's cache key)."""
    out: list[tuple[int, int, int] | None] = []
    for name in (older_path(), path()):
        try:
            st = os.stat(name)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


def forget(project: str | None = None) -> int:
    """Drop the records (of ``project`` when given; every record, files and all, when not): what the
    prompts were shown goes when their memories are forgotten. Returns how many were dropped."""
    return _rewrite(lambda e: project is not None and e.get("project") != project)


def expire(older_than: float) -> int:
    """Drop the records older than ``older_than`` (``privacy.auto_delete_after_days``)."""
    return _rewrite(lambda e: e["at"] >= older_than)


def _rewrite(keep: Any) -> int:
    """Keep only the records ``keep`` accepts, in both files, under the rotation lock; returns how many
    were dropped. Each file is rewritten through a temp file and ``os.replace``; one left empty is removed.
    (A record a hook appends while this runs may be lost with the old file: forgets are rare, and a lost
    record costs nothing but the record.)"""
    dropped = 0
    with _Locked():
        for name in (older_path(), path()):
            entries = _parse(name)
            if not entries and not os.path.exists(name):
                continue
            kept = [e for e in entries if keep(e)]
            dropped += len(entries) - len(kept)
            if not kept:
                try:
                    os.unlink(name)
                except FileNotFoundError:
                    pass
                continue
            if len(kept) == len(entries):
                continue
            paths.write_private_text(name, "".join(fastjson.dumps(e, ensure_ascii=False) + "\n" for e in kept))
    return dropped


def resolve(store: Any, ids: Iterable[str]) -> dict[str, Memory]:
    """The memories behind ``ids`` that the local ``store`` still holds, by id (a forgotten one is
    missing). Another store gives nothing: none has a cheap read by id. BackendUnavailable when the
    store cannot be read."""
    if getattr(store, "name", None) != "local":
        return {}
    import sqlite3

    from mem0_hooks.backends.local import COLUMNS, memory_of
    from mem0_hooks.errors import BackendUnavailable

    wanted = list(dict.fromkeys(ids))
    found: dict[str, Memory] = {}
    try:
        for at in range(0, len(wanted), 500):
            chunk = wanted[at : at + 500]
            marks = ",".join("?" * len(chunk))
            for row in store.db.execute(f"SELECT {COLUMNS} FROM memories WHERE id IN ({marks})", chunk):
                memory = memory_of(row)
                found[memory.id] = memory
    except sqlite3.Error as exc:
        raise BackendUnavailable(f"local store {store.path} cannot be read: {exc}") from exc
    return found


def clean(text: str) -> str:
    """``text`` on one line without control characters (a terminal would obey an escape sequence)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
