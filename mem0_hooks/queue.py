"""The durable local queue between capture and the store.

One file per item under ``queue/pending/``, named ``<enqueued-ns>-<id>.json`` so names sort in
arrival order. Enqueue writes a private temp file in ``queue/tmp/``, writes it whole, fsyncs it and
renames it into place: the rename is atomic, so concurrent hooks of many sessions never see or make a
half-written item, and need no lock (the hot path stays free of filelock's import cost). A writer that
dies (or fills the disk) before the rename leaves only a temp file, which ``clean_temp`` removes later.

Only the holder of ``flush.lock`` (filelock: the background flusher for its whole life, or
``mem0-hooks replay``) reads, rewrites (retry bookkeeping), dead-letters, revives and removes items,
and it removes an item only after the store confirmed it. Items that can never be delivered move
to ``queue/dead/`` with the reason, until ``mem0-hooks replay --dead`` moves them back.

Everything here is private to the user: directories 0700, files 0600. ``queue.max_items`` caps the
pending items; past it ``enqueue`` refuses with ``QueueFull`` and leaves a note (``full.json``) that
``mem0-hooks status`` shows until an enqueue succeeds again. The cap is checked without a lock, so
hooks racing at the very edge can overshoot it by a few items, and a long-lived process counts at
most once a minute while far below it (``_far_below_cap``): it guards the disk, not an exact count.
"""

from __future__ import annotations

import os
import time

from mem0_hooks import fastjson as json
from mem0_hooks import paths
from mem0_hooks.errors import QueueError

TYPE_CHECKING = False  # hooks import this module: ``typing`` is for type checkers only
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

PENDING = "pending"
DEAD = "dead"
_TMP = "tmp"
FULL_NOTE = "full.json"
# A temp file this old is a crashed writer's whatever its pid says (pids are reused).
TMP_MAX_AGE = 600.0
# Younger than this, a temp file may belong to a writer that is still at work.
TMP_MIN_AGE = 5.0
# Fields without which an item cannot be turned into a MemoryItem.
_REQUIRED = ("id", "text", "role", "created_at")

_private_dirs: set[str] = set()


class QueueFull(QueueError):
    """The queue holds ``queue.max_items`` pending items and refuses new ones."""


class CorruptItem(QueueError):
    """A queue file that cannot be parsed as an item (truncated, not JSON, wrong shape)."""


_root: str | None = None  # set by ``use_root``


def root() -> str:
    """The queue directory: ``queue/`` in the data dir, unless ``use_root`` chose another."""
    return _root or paths.queue_dir()


def use_root(path: str | None) -> None:
    """Keep this process's queue (items, lock, status) in ``path``; None goes back to the data dir's.

    ``mem0-hooks migrate`` sends the local store's memories to a remote store while the hooks keep
    delivering new turns to the local one: its items wait in a queue of their own, drained by it
    alone, so neither flusher delivers the other's items to the wrong store.
    """
    global _root
    _root = path


def _dir(kind: str) -> str:
    return os.path.join(root(), kind)


def lock_path() -> str:
    return os.path.join(root(), "flush.lock")


def ensure_dirs(*kinds: str) -> str:
    """Create the queue dir (and the ``kinds`` below it) owner-only, and return the queue dir."""
    root_dir = root()
    _ensure_private(root_dir)
    for kind in kinds:
        _ensure_private(os.path.join(root_dir, kind))
    return root_dir


def _ensure_private(path: str) -> None:
    """``path`` exists as a directory with mode 0700.

    ``os.makedirs`` gives ``mode`` only to the last directory and lets the umask reduce it, so each
    queue directory is made and checked here: conversation text lives below. Checked once per process.
    """
    if path in _private_dirs:
        return
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        paths.ensure_private_dir(os.path.dirname(path))
        os.makedirs(path, 0o700, exist_ok=True)
    st = os.stat(path)
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, 0o700)
    _private_dirs.add(path)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` may write less than asked (a nearly full disk, RLIMIT_FSIZE): loop until done."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - POSIX raises instead; guard against a spin
            raise OSError(28, "short write")
        view = view[written:]


def _write_atomic(directory: str, name: str, payload: dict[str, Any], sync: bool = True) -> None:
    """Write ``payload`` as ``directory/name`` all or nothing; never leaves a partial file behind.

    ``sync=False`` leaves the fsync to ``sync_written`` (see ``enqueue``)."""
    # errors="replace": a lone surrogate from a JSON escape must not make an item unwritable or,
    # worse, a poison pill the store chokes on later.
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    tmp_dir = _dir(_TMP)
    try:
        _write_once(directory, tmp_dir, name, data, sync)
    except FileNotFoundError:
        # A directory went away under a long-lived process (the queue was wiped): make them again.
        _private_dirs.clear()
        _write_once(directory, tmp_dir, name, data, sync)


def _write_once(directory: str, tmp_dir: str, name: str, data: bytes, sync: bool) -> None:
    _ensure_private(root())
    _ensure_private(tmp_dir)
    _ensure_private(directory)
    tmp = os.path.join(tmp_dir, f"{name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    placed = False
    try:
        _write_all(fd, data)
        if sync:
            os.fsync(fd)
        os.replace(tmp, os.path.join(directory, name))
        placed = True
    finally:
        if placed and not sync:
            _unsynced.append(fd)  # closed by sync_written
        else:
            os.close(fd)
        if not placed:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# Items written by ``enqueue(sync=False)`` and not yet flushed to the device: their open files, and the
# directories renamed into.
_unsynced: list[int] = []
_unsynced_dirs: set[str] = set()


def sync_written() -> None:
    """Flush what ``enqueue(sync=False)`` wrote to the device (the files, then the directory entries).

    Best effort, as the fsync in ``enqueue`` is not: the items are already in place for every process
    to see, and a failure here is one only a power cut before the kernel's own writeback would show.
    """
    while _unsynced:
        fd = _unsynced.pop()
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
    while _unsynced_dirs:
        _sync_dir(_unsynced_dirs.pop())


def _sync_dir(directory: str) -> None:
    """Make the renames into ``directory`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def depth(kind: str = PENDING) -> int:
    """How many items are waiting (or dead, with ``kind=DEAD``)."""
    try:
        with os.scandir(_dir(kind)) as it:
            return sum(1 for entry in it if entry.name.endswith(".json"))
    except FileNotFoundError:
        return 0


def where(item_id: str) -> str | None:
    """``PENDING`` or ``DEAD`` while an item with this id is in the queue, None once it left it."""
    suffix = f"-{item_id}.json"
    for kind in (PENDING, DEAD):
        try:
            with os.scandir(_dir(kind)) as it:
                if any(entry.name.endswith(suffix) for entry in it):
                    return kind
        except FileNotFoundError:
            pass
    return None


# A long-lived process (the warm process, one enqueue per prompt) does not list the queue for every
# item while it is far below the cap: it counts again after a minute, or once its own items since
# the last count would bring it near. Other writers in that minute can overshoot the cap by what they
# write; the cap guards the disk during a long outage, it is not an exact count.
FAR_BELOW_SHARE = 0.5
RECOUNT_SECONDS = 60.0
_counted: dict[str, tuple[float, int]] = {}  # pending dir -> (when counted, names then + added since)


def _far_below_cap(pending: str, adding: int, max_items: int) -> bool:
    """True when ``adding`` more items leave the queue well under ``max_items`` (by a count that may
    be a minute old); False sends the caller to the exact count."""
    now = time.monotonic()
    known = _counted.get(pending)
    if known is not None and now - known[0] < RECOUNT_SECONDS and known[1] + adding <= max_items * FAR_BELOW_SHARE:
        _counted[pending] = (known[0], known[1] + adding)
        return True
    entries = _entries(pending)
    _counted[pending] = (now, entries + adding)
    return entries + adding <= max_items


def _entries(directory: str) -> int:
    """How many names ``directory`` holds: at least ``depth``, at a tenth of its cost."""
    try:
        return len(os.listdir(directory))
    except FileNotFoundError:
        return 0


def enqueue(items: list[dict[str, Any]], *, max_items: int | None = None, sync: bool = True) -> int:
    """Put items on disk; returns how many were written.

    Raises ``QueueFull`` when the cap refuses and ``QueueError`` when the disk does. Items written
    before a disk error stay queued; the caller may enqueue them again (ids make that harmless).

    Each item is flushed to the device (fsync) before this returns, unless ``sync=False``: then it is
    written and in place (no process dying from now on can lose it, the kernel holds it) and flushed
    by ``sync_written``, which the caller must call, e.g. once its hook has answered.
    """
    if not items:
        return 0
    pending = _dir(PENDING)
    if max_items is not None and not _far_below_cap(pending, len(items), max_items):
        waiting = depth(PENDING)  # the exact count, only near the cap: it reads every name
        if waiting + len(items) > max_items:
            _note_full(len(items), waiting, max_items)
            raise QueueFull(
                f"queue full: {waiting} items pending, cap queue.max_items={max_items}; "
                f"{len(items)} new item(s) not captured until `mem0-hooks replay` drains it"
            )
    written = 0
    try:
        for item in items:
            record = {"item": item, "attempts": 0, "enqueued_at": time.time()}
            _write_atomic(pending, f"{time.time_ns():020d}-{item['id']}.json", record, sync)
            written += 1
    except OSError as exc:
        raise QueueError(f"cannot write the queue in {pending}: {exc.strerror or exc}") from exc
    finally:
        if written and sync:
            _sync_dir(pending)
        elif written:
            _unsynced_dirs.add(pending)
    if max_items is not None:
        try:
            os.unlink(os.path.join(root(), FULL_NOTE))
        except OSError:
            pass
    return written


def _note_full(refused: int, waiting: int, cap: int) -> None:
    """Remember that the cap refused items, for ``status`` (best effort: the disk may be the problem)."""
    note = full_note() or {}
    now = time.time()
    note = {
        "first_at": note.get("first_at") or now,
        "last_at": now,
        "refused": int(note.get("refused") or 0) + refused,
        "pending": waiting,
        "cap": cap,
    }
    try:
        _write_atomic(root(), FULL_NOTE, note)
    except OSError:
        pass


def full_note() -> dict[str, Any] | None:
    """``{"first_at", "last_at", "refused", "pending", "cap"}`` while the cap is refusing items, else None."""
    try:
        with open(os.path.join(root(), FULL_NOTE), encoding="utf-8") as fh:
            note = json.load(fh)
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def names(kind: str = PENDING) -> list[str]:
    """Item file names in arrival order."""
    try:
        with os.scandir(_dir(kind)) as it:
            return sorted(entry.name for entry in it if entry.name.endswith(".json"))
    except FileNotFoundError:
        return []


def read(name: str, kind: str = PENDING) -> dict[str, Any]:
    """The record ``{"item", "attempts", ...}`` stored under ``name``; CorruptItem when unreadable."""
    path = os.path.join(_dir(kind), name)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CorruptItem(f"unreadable: {exc.strerror}") from exc
    if not raw:
        raise CorruptItem("empty file")
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptItem(f"not valid JSON ({len(raw)} bytes): {exc}") from exc
    item = record.get("item") if isinstance(record, dict) else None
    if not isinstance(item, dict):
        raise CorruptItem("not a queue item (no item object)")
    missing = [key for key in _REQUIRED if not isinstance(item.get(key), str)]
    if missing:
        raise CorruptItem(f"not a queue item (missing or not text: {', '.join('item.' + k for k in missing)})")
    if not isinstance(record.get("attempts", 0), int) or not isinstance(record.get("next_attempt_at", 0), (int, float)):
        raise CorruptItem("not a queue item (bad attempts or next_attempt_at)")
    return record


def iter_pending() -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """``(name, record, error)`` for every pending item in arrival order; record None when corrupt."""
    for name in names(PENDING):
        try:
            record = read(name)
        except FileNotFoundError:
            continue
        except CorruptItem as exc:
            yield name, None, str(exc)
            continue
        yield name, record, None


def iter_due(now: float | None = None) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """Like ``iter_pending`` but only items whose retry time has come (corrupt ones always)."""
    now = time.time() if now is None else now
    for name, record, error in iter_pending():
        if record is None or record.get("next_attempt_at", 0) <= now:
            yield name, record, error


def next_due_at() -> float | None:
    """The earliest retry time among pending items (None when the queue is empty)."""
    soonest = None
    for _name, record, _error in iter_pending():
        due = 0.0 if record is None else float(record.get("next_attempt_at", 0))
        soonest = due if soonest is None else min(soonest, due)
    return soonest


def pending_changed_at() -> int:
    """The pending directory's mtime (ns): it moves whenever an item is added or removed."""
    try:
        return os.stat(_dir(PENDING)).st_mtime_ns
    except OSError:
        return 0


def ack(name: str) -> None:
    """Remove a delivered item."""
    try:
        os.unlink(os.path.join(_dir(PENDING), name))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise QueueError(f"cannot remove delivered item {name}: {exc.strerror or exc}") from exc


def retry_later(name: str, record: dict[str, Any], error: str, delay: float) -> dict[str, Any]:
    """Count a failed attempt and hold the item back for ``delay`` seconds; returns the new record."""
    record = dict(record)
    record["attempts"] = int(record.get("attempts", 0)) + 1
    record["last_error"] = error
    record["last_attempt_at"] = time.time()
    record["next_attempt_at"] = time.time() + delay
    try:
        _write_atomic(_dir(PENDING), name, record)
    except OSError as exc:
        raise QueueError(f"cannot update queue item {name}: {exc.strerror or exc}") from exc
    return record


def dead_letter(name: str, record: dict[str, Any] | None, reason: str) -> None:
    """Move an item to the dead-letter area with the reason; a corrupt one keeps its raw bytes.

    The dead copy is written before the pending one is removed, so a crash in between leaves the
    item in both places, never in neither (the id makes a later double delivery harmless).
    """
    src = os.path.join(_dir(PENDING), name)
    if record is None:
        try:
            with open(src, "rb") as fh:
                raw = fh.read(1_000_000)
        except OSError:
            raw = b""
        record = {"raw": raw.decode("utf-8", "replace")}
    record = dict(record)
    record["dead_reason"] = reason
    record["dead_at"] = time.time()
    try:
        _write_atomic(_dir(DEAD), name, record)
        os.unlink(src)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise QueueError(f"cannot dead-letter queue item {name}: {exc.strerror or exc}") from exc


def revive_dead() -> tuple[int, int]:
    """Move every dead item that still holds an item back to pending, attempts reset.

    Returns ``(revived, kept)``: corrupt items stay dead, there is nothing in them to deliver.
    """
    revived = kept = 0
    for name in names(DEAD):
        path = os.path.join(_dir(DEAD), name)
        try:
            record = read(name, DEAD)
        except FileNotFoundError:
            continue
        except QueueError:
            kept += 1
            continue
        fresh = {"item": record["item"], "attempts": 0, "enqueued_at": record.get("enqueued_at", time.time())}
        try:
            _write_atomic(_dir(PENDING), name, fresh)
            os.unlink(path)
        except OSError as exc:
            raise QueueError(f"cannot move dead item {name} back to the queue: {exc.strerror or exc}") from exc
        revived += 1
    return revived, kept


def dead_items() -> list[dict[str, Any]]:
    """Dead-lettered records (with ``dead_reason``), oldest first."""
    out = []
    for name in names(DEAD):
        try:
            with open(os.path.join(_dir(DEAD), name), encoding="utf-8") as fh:
                record = json.load(fh)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            record = {"dead_reason": "unreadable dead-letter file"}
        record["name"] = name
        out.append(record)
    return out


def dead_dir() -> str:
    return _dir(DEAD)


def expire(older_than: float) -> int:
    """Drop pending and dead items enqueued before ``older_than`` (retention); returns the count."""
    dropped = 0
    for kind in (PENDING, DEAD):
        for name in names(kind):
            try:
                stamp = int(name.split("-", 1)[0]) / 1e9
            except ValueError:
                continue
            if stamp < older_than:
                try:
                    os.unlink(os.path.join(_dir(kind), name))
                    dropped += 1
                except FileNotFoundError:
                    pass
    return dropped


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def clean_temp(now: float | None = None) -> int:
    """Remove temp files left by writers that died before their rename; returns how many.

    A temp file goes when its writer (the pid in its name) is gone, or when it is older than any
    writer could take. Its item was never enqueued (the hook that wrote it captures it again), and a
    rewrite's temp file only ever shadows an item that is still in place.
    """
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(_dir(_TMP)))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        parts = entry.name.rsplit(".", 2)
        try:
            pid = int(parts[1]) if len(parts) == 3 else 0
        except ValueError:
            pid = 0
        stale = age > TMP_MAX_AGE or (age > TMP_MIN_AGE and (pid <= 0 or not _pid_alive(pid)))
        if stale:
            try:
                os.unlink(entry.path)
                removed += 1
            except FileNotFoundError:
                pass
    return removed
