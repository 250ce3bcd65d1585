"""The flusher: drains the queue into the configured store, one flusher at a time.

Hooks start it detached (``spawn``) and return at once. It holds ``queue/flush.lock`` (filelock; the
OS drops the lock when a flusher is killed, so a stale lock never blocks the next one), delivers
items in arrival order and removes each only after the store confirmed it. Delivery is at least once;
the effect is exactly once because every item carries a stable id: the local store refuses an id it
has, and for remote stores a ledger of delivered ids (``queue/delivered.sqlite3``) is consulted first.

Failures: a store that is down, times out, answers 5xx or 429 holds the whole queue back with
exponential backoff and jitter (``Retry-After`` honoured); a request the store will never accept
(4xx) or an item past ``queue.max_attempts`` moves to the dead-letter area with the reason.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from mem0_hooks import paths, queue
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.errors import BackendError, QueueError

LOCAL_BATCH = 200
MAX_IDLE_WAIT = 300.0  # a flusher never waits longer than this for a backoff to expire; a later hook restarts it
STATUS_FILE = "flush.json"


# -- starting a flusher ------------------------------------------------------------------------------
def flusher_running() -> bool:
    """True while some process holds the flush lock (a cheap fcntl probe, no filelock import)."""
    import fcntl

    try:
        fd = os.open(queue.lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops our probe lock
    return False


def spawn() -> None:
    """Start a detached flusher unless one is running; never waits for it."""
    try:
        paths.ensure_private_dir(paths.queue_dir())
        if flusher_running():
            return  # it re-checks the queue after releasing the lock, so our items are not stranded
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = f"import sys; sys.path.insert(0, {package_parent!r}); from mem0_hooks.flush import main; main()"
        devnull = os.devnull
        os.posix_spawn(
            sys.executable,
            [sys.executable, "-c", code],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
            ],
            setsid=True,
        )
    except Exception as exc:  # noqa: BLE001 - the items are safe on disk; replay delivers them
        from mem0_hooks.log import log

        log(f"could not start the flusher: {exc}", level="WARNING")


# -- delivering --------------------------------------------------------------------------------------
@dataclass
class DrainResult:
    """What one drain did."""

    delivered: int = 0
    duplicates: int = 0  # already stored: acknowledged without sending again
    retried: int = 0
    dead: int = 0
    held_until: float | None = None  # the store is unavailable until then
    errors: list[str] = field(default_factory=list)


class Ledger:
    """Ids delivered to a remote store, so a redelivery after a crash is not sent twice."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(paths.queue_dir(), "delivered.sqlite3")
        paths.ensure_private_dir(os.path.dirname(self.path))
        if not os.path.exists(self.path):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, backend TEXT, at REAL)")

    def seen(self, item_id: str, backend: str) -> bool:
        row = self.db.execute("SELECT 1 FROM delivered WHERE id = ? AND backend = ?", (item_id, backend)).fetchone()
        return row is not None

    def record(self, item_id: str, backend: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO delivered VALUES (?, ?, ?)", (item_id, backend, time.time()))


def backoff_delay(attempts: int, config: dict[str, Any], retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
    qcfg = config["queue"]
    ceiling = min(qcfg["backoff_max_seconds"], qcfg["backoff_base_seconds"] * (2 ** min(attempts, 30)))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def drain(
    backend: Any,
    config: dict[str, Any],
    *,
    limit: int | None = None,
    ignore_backoff: bool = False,
    progress: Callable[[DrainResult, int], None] | None = None,
    mirror: Any | None = None,
) -> DrainResult:
    """Deliver due items (all items with ``ignore_backoff``) until done, ``limit``, or the store fails.

    The caller holds the flush lock. ``mirror`` (the local store, in fallback mode ``local``) receives
    every item too, before the remote does.
    """
    result = DrainResult()
    remote = backend.name != "local"
    ledger = Ledger() if remote else None
    max_attempts = config["queue"]["max_attempts"]
    now = float("inf") if ignore_backoff else None
    handled = 0
    batch: list[tuple[str, dict[str, Any]]] = []

    def total_left() -> int:
        return queue.depth()

    def settle_failure(entries: list[tuple[str, dict[str, Any]]], exc: BackendError) -> None:
        for name, record in entries:
            attempts = int(record.get("attempts", 0)) + 1
            if not exc.retryable:
                queue.dead_letter(name, record, f"rejected by {backend.name}: {exc}")
                result.dead += 1
            elif attempts >= max_attempts:
                queue.dead_letter(name, record, f"gave up after {attempts} attempts: {exc}")
                result.dead += 1
            else:
                queue.retry_later(name, record, str(exc), backoff_delay(attempts, config, exc.retry_after))
                result.retried += 1
        result.errors.append(str(exc))

    def deliver(entries: list[tuple[str, dict[str, Any]]]) -> bool:
        """Deliver a batch; False when the store is unavailable and the drain must stop."""
        items = [MemoryItem.from_dict(record["item"]) for _, record in entries]
        if mirror is not None:
            try:
                mirror.add(items)
            except BackendError as exc:
                from mem0_hooks.log import log

                log(f"local fallback copy failed: {exc}", level="WARNING")
        if not remote:
            try:
                backend.add(items)
            except BackendError as exc:
                settle_failure(entries, exc)
                if exc.retryable:
                    result.held_until = time.time() + backoff_delay(1, config, exc.retry_after)
                return not exc.retryable
            for name, _ in entries:
                queue.ack(name)
            result.delivered += len(entries)
            return True
        assert ledger is not None
        for (name, record), item in zip(entries, items):
            if ledger.seen(item.id, backend.name) or (
                record.get("attempts", 0) > 0 and _already_stored(backend, item.id)
            ):
                ledger.record(item.id, backend.name)
                queue.ack(name)
                result.duplicates += 1
                continue
            try:
                backend.add([item])
            except BackendError as exc:
                settle_failure([(name, record)], exc)
                if exc.retryable:
                    result.held_until = time.time() + backoff_delay(
                        int(record.get("attempts", 0)) + 1, config, exc.retry_after
                    )
                    return False
                continue
            ledger.record(item.id, backend.name)
            queue.ack(name)
            result.delivered += 1
        return True

    for name, record, error in queue.iter_due(now):
        if limit is not None and handled >= limit:
            break
        handled += 1
        if record is None:
            queue.dead_letter(name, None, f"corrupt queue item: {error}")
            result.dead += 1
            continue
        batch.append((name, record))
        if len(batch) >= (LOCAL_BATCH if not remote else 1):
            go_on = deliver(batch)
            batch = []
            if progress is not None:
                progress(result, total_left())
            if not go_on:
                return result
    if batch:
        deliver(batch)
        if progress is not None:
            progress(result, total_left())
    return result


def _already_stored(backend: Any, item_id: str) -> bool:
    check = getattr(backend, "already_stored", None)
    if check is None:
        return False
    try:
        return bool(check(item_id))
    except BackendError:
        return False


# -- bookkeeping -------------------------------------------------------------------------------------
def read_status() -> dict[str, Any]:
    try:
        with open(paths.state_file(STATUS_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_status(**changes: Any) -> None:
    status = read_status()
    status.update(changes)
    path = paths.state_file(STATUS_FILE)
    try:
        paths.ensure_private_dir(os.path.dirname(path))
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(status, fh)
        os.replace(tmp, path)
    except OSError:
        pass


def record_result(result: DrainResult) -> None:
    changes: dict[str, Any] = {"last_flush_at": time.time()}
    if result.delivered or result.duplicates:
        changes["last_delivered_at"] = time.time()
    if result.errors:
        changes["last_error"] = result.errors[-1]
        changes["last_error_at"] = time.time()
    if result.held_until:
        changes["held_until"] = result.held_until
    else:
        changes["held_until"] = None
    write_status(**changes)


def apply_retention(config: dict[str, Any]) -> None:
    """Forget memories and queue items older than ``privacy.auto_delete_after_days`` (hourly at most)."""
    days = config["privacy"]["auto_delete_after_days"]
    if not days:
        return
    status = read_status()
    if time.time() - float(status.get("retention_at") or 0) < 3600:
        return
    cutoff = time.time() - days * 86400
    queue.expire(cutoff)
    from mem0_hooks.backends.local import LocalStore

    if config["backend"] == "local" or config["claude_code"]["fallback_mode"] == "local":
        LocalStore().delete_older_than(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff)))
    write_status(retention_at=time.time())


def open_targets(config: dict[str, Any]) -> tuple[Any, Any | None]:
    """The store to deliver to, and the local mirror when fallback_mode is 'local'."""
    from mem0_hooks.backends import open_backend

    backend = open_backend(config)
    mirror = None
    if backend.name != "local" and config["claude_code"]["fallback_mode"] == "local":
        from mem0_hooks.backends.local import LocalStore

        mirror = LocalStore()
    return backend, mirror


def run_flusher() -> int:
    """Drain until the queue is empty (or only long backoffs remain); one flusher at a time."""
    from filelock import FileLock, Timeout

    from mem0_hooks import config as config_mod
    from mem0_hooks.log import log

    os.umask(0o077)
    config = config_mod.load()
    lock = FileLock(queue.lock_path())
    backend, mirror = open_targets(config)
    idle_since = time.time()
    while True:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return 0  # another flusher is at work
        try:
            apply_retention(config)
            result = drain(backend, config, mirror=mirror)
            record_result(result)
            if result.delivered or result.dead:
                log(
                    f"flushed to {backend.name}: {result.delivered} delivered, {result.duplicates} already there, "
                    f"{result.retried} to retry, {result.dead} dead-lettered, {queue.depth()} pending"
                )
                idle_since = time.time()
            for error in result.errors[-1:]:
                log(f"delivery to {backend.name} failed: {error}", level="WARNING")
            soonest = queue.next_due_at()
            if result.held_until:
                soonest = max(soonest or 0, result.held_until)
        finally:
            lock.release()
        if soonest is None:
            # Released: a hook that saw the lock held skipped spawning, so look once more.
            if queue.depth() == 0:
                return 0
            continue
        wait = soonest - time.time()
        if wait > MAX_IDLE_WAIT or time.time() - idle_since > MAX_IDLE_WAIT:
            return 0
        time.sleep(min(max(wait, 0.05), 1.0))


def main() -> None:
    """Entry point of the detached flusher process; failures go to the log."""
    try:
        code = run_flusher()
    except BaseException as exc:  # noqa: BLE001
        from mem0_hooks.log import log_exception

        log_exception("flusher", exc)
        code = 1
    os._exit(code)


if __name__ == "__main__":
    main()
