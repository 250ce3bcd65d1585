"""The flusher: drains the queue into the configured store, one flusher at a time.

Hooks start it detached (``spawn``) and return at once. It holds ``queue/flush.lock`` (filelock, a
``flock``: the kernel drops it when the holder dies, so a stale lock from a SIGKILLed flusher never
blocks the next one) for as long as it lives, sleeps included, so hooks that see it held start no
other. It lives only while there is work it can do: it exits when the queue is empty, when the
store is held back for longer than ``MAX_IDLE_WAIT``, or when it made no progress for that long; a
later hook starts a fresh one. ``mem0-hooks replay`` asks it to step aside (``replay.request``).

Delivery is at least once; the effect is exactly once because every item carries a stable id:

* the local store refuses an id it already has (``INSERT OR IGNORE`` in one transaction per batch);
* for remote stores a ledger (``queue/delivered.sqlite3``) marks an id *sending* before the request
  and *delivered* after the store confirmed it, both committed before the next step. An id found
  *delivered* is acknowledged without sending; one found *sending* (a crash, a timeout or an error
  left it in doubt) is first looked up with the backend's ``already_stored(id)`` and sent again only
  when the store does not have it. The residual window, for a crash (or a timeout) between the store
  accepting the request and the ledger commit: a backend without ``already_stored``, or one whose
  memory is not yet visible to it (Mem0 Platform's asynchronous add) or past the listing it scans,
  gets a second copy.

Failures: a store that is down, times out, answers 408/429/502/503/504 (an outage) holds the whole
queue back (``held_until`` in ``state/flush.json``) with exponential backoff and jitter, never
shorter than the server's ``Retry-After``; the item tried also gets its own backoff, so one item
that always fails cannot block the others. Outages never dead-letter anything: items wait. A
request the store will never accept (4xx) moves the item to the dead-letter area at once, and an
item that keeps failing on its own (other 5xx, a store bug) does after ``queue.max_attempts`` tries.
"""

from __future__ import annotations

import os
import time

from mem0_hooks import fastjson as json
from mem0_hooks import paths, queue
from mem0_hooks.errors import BackendError, QueueError

# A Stop hook imports this module for ``spawn``: what only the flusher needs (sqlite3, random, the
# backends) is imported where it is used, and ``typing`` only for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from typing import Any

    from mem0_hooks.backends.base import MemoryItem

LOCAL_BATCH = 200
# Items of one session sent in one request to a store whose API takes several (``takes_batches``), with
# ``queue.batch_operations`` on.
REMOTE_BATCH = 20
# A flusher never sleeps longer than this for a backoff, nor lives this long without progress: an
# idle process holding the lock helps nobody, and the next hook starts a fresh one.
MAX_IDLE_WAIT = 30.0
LOCK_WAIT = 0.5  # a hook's probe holds the lock for microseconds: wait that out rather than lose a start
TICK = 0.25  # how often a sleeping flusher looks for new items and for a replay that wants the lock
MAX_RETRY_AFTER = 86400.0  # a Retry-After beyond a day is a server bug, not a plan
STATUS_FILE = "flush.json"
REPLAY_REQUEST = "replay.request"
REPLAY_REQUEST_TTL = 120.0
LEDGER_KEEP_DAYS = 90
# Statuses that say the store, not this item, is unavailable (``status`` None: never reached it).
OUTAGE_STATUSES = frozenset({408, 429, 502, 503, 504})


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
        queue.ensure_dirs()
        if flusher_running():
            return  # it looks at the queue again before it exits, so our items are not stranded
        if store_held_until() > time.time() + MAX_IDLE_WAIT:
            return  # the store failed and asked for a long pause: a flusher would only exit again
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = f"import sys; sys.path.insert(0, {package_parent!r}); from mem0_hooks.flush import main; main()"
        from mem0_hooks.detach import spawn_python

        spawn_python("-c", code)
    except Exception as exc:  # noqa: BLE001 - the items are safe on disk; replay delivers them
        from mem0_hooks.log import log

        log(f"could not start the flusher: {exc}", level="WARNING")


# -- replay asks the background flusher to step aside --------------------------------------------------
def _request_path() -> str:
    return os.path.join(queue.root(), REPLAY_REQUEST)


def request_lock() -> None:
    """Ask a background flusher to release the lock soon (``mem0-hooks replay`` wants it)."""
    queue._write_atomic(queue.root(), REPLAY_REQUEST, {"pid": os.getpid(), "at": time.time()})


LOCK_TAKEOVER_SECONDS = 30


def take_lock(*, quiet: bool = False) -> Any:
    """The flush lock (a ``filelock.FileLock``, held), for a command that delivers now: a background
    flusher is asked to step aside and given ``LOCK_TAKEOVER_SECONDS`` to. QueueError when it does not."""
    from filelock import FileLock, Timeout

    queue.ensure_dirs()
    lock = FileLock(queue.lock_path(), mode=0o600)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not quiet:
            import sys

            print("asking the background flusher to step aside...", file=sys.stderr)
        request_lock()
        try:
            lock.acquire(timeout=LOCK_TAKEOVER_SECONDS)
        except Timeout:
            raise QueueError(
                f"another process has held the queue lock for {LOCK_TAKEOVER_SECONDS}s ({queue.lock_path()}); "
                "try again in a minute"
            ) from None
        finally:
            withdraw_request()
    return lock


def withdraw_request() -> None:
    try:
        os.unlink(_request_path())
    except OSError:
        pass


def lock_requested() -> bool:
    """Whether a live ``replay`` asked for the lock (a request left by a killed replay is ignored)."""
    try:
        with open(_request_path(), encoding="utf-8") as fh:
            request = json.load(fh)
        pid, at = int(request["pid"]), float(request["at"])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if time.time() - at > REPLAY_REQUEST_TTL or pid == os.getpid():
        return False
    return queue._pid_alive(pid)


# -- bookkeeping -------------------------------------------------------------------------------------
def _status_path() -> str:
    """``state/flush.json``; a queue moved elsewhere (``queue.use_root``) keeps its status beside it,
    so that a store it holds back never holds back the data dir's own flusher."""
    if queue.root() != paths.queue_dir():
        return os.path.join(queue.root(), STATUS_FILE)
    return paths.state_file(STATUS_FILE)


def read_status() -> dict[str, Any]:
    try:
        with open(_status_path(), encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_status(**changes: Any) -> None:
    status = read_status()
    status.update(changes)
    try:
        paths.write_private_json(_status_path(), status)
    except OSError:
        pass  # status is informational; the queue itself is what must survive


def _clean_status_temp() -> None:
    """Remove ``flush.json.<pid>.tmp`` files of status writers that died before their rename."""
    directory = os.path.dirname(paths.state_file(STATUS_FILE))
    try:
        entries = [e for e in os.scandir(directory) if e.name.startswith(STATUS_FILE + ".") and e.name.endswith(".tmp")]
    except OSError:
        return
    for entry in entries:
        try:
            pid = int(entry.name.split(".")[-2])
        except ValueError:
            continue
        if pid != os.getpid() and not queue._pid_alive(pid):
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def store_held_until() -> float:
    """Until when the store is held back after failures (0 when it is not)."""
    try:
        return float(read_status().get("held_until") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def hold_store(exc: BackendError, config: dict[str, Any]) -> float:
    """Record a failure of the store itself: back off the whole queue. Returns the time it is held until."""
    status = read_status()
    try:
        failures = int(status.get("store_failures") or 0) + 1
    except (TypeError, ValueError):
        failures = 1
    until = time.time() + backoff_delay(failures, config, exc.retry_after)
    write_status(held_until=until, store_failures=failures, last_error=str(exc), last_error_at=time.time())
    return until


def release_store() -> None:
    """The store answered: forget the hold and the failure count."""
    status = read_status()
    if status.get("held_until") or status.get("store_failures"):
        write_status(held_until=None, store_failures=0)


def backoff_delay(attempts: int, config: dict[str, Any], retry_after: float | None = None) -> float:
    """Seconds to wait after the ``attempts``-th consecutive failure.

    Exponential (``backoff_base_seconds * 2**(attempts-1)``, capped at ``backoff_max_seconds``) with
    "equal jitter": a random point in the upper half, so waits still grow while clients spread out.
    Never shorter than the server's ``Retry-After`` (itself capped at a day).
    """
    import random

    qcfg = config["queue"]
    base, top = float(qcfg["backoff_base_seconds"]), float(qcfg["backoff_max_seconds"])
    ceiling = min(top, base * (2 ** min(max(attempts, 1) - 1, 40)))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
    return delay


def is_outage(exc: BackendError) -> bool:
    """Whether a failure says the store is unavailable (as opposed to this one item failing)."""
    if not exc.retryable or isinstance(exc, _StoreRaised):
        return False
    return exc.status is None or exc.status in OUTAGE_STATUSES


# -- the ledger ----------------------------------------------------------------------------------------
SENDING = "sending"
DELIVERED = "delivered"


class Ledger:
    """Per-target delivery state of item ids for remote stores: *sending* before the request, *delivered* after.

    ``target`` names the store (backend, URL, user), so switching servers does not hide items from the
    new one. Each mark is committed (WAL, synchronous FULL) before the flusher takes its next step.
    """

    def __init__(self, target: str, path: str | None = None) -> None:
        import sqlite3

        self.target = target
        # The data dir's ledger, also for a queue moved by ``queue.use_root``: whoever delivers to a
        # target, every delivery to it is known here.
        self.path = path or os.path.join(paths.queue_dir(), "delivered.sqlite3")
        queue.ensure_dirs()
        paths.ensure_private_dir(os.path.dirname(self.path))
        if not os.path.exists(self.path):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.db: sqlite3.Connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS deliveries (id TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL,"
            " at REAL NOT NULL, PRIMARY KEY (id, target)) WITHOUT ROWID"
        )

    def state(self, item_id: str) -> str | None:
        """``"sending"``, ``"delivered"`` or None (never tried)."""
        row = self.db.execute(
            "SELECT state FROM deliveries WHERE id = ? AND target = ?", (item_id, self.target)
        ).fetchone()
        return row[0] if row else None

    def seen(self, item_id: str) -> bool:
        return self.state(item_id) == DELIVERED

    def mark(self, item_id: str, state: str) -> None:
        self.db.execute(
            "INSERT INTO deliveries VALUES (?, ?, ?, ?) ON CONFLICT (id, target) DO UPDATE SET state = excluded.state,"
            " at = excluded.at",
            (item_id, self.target, state, time.time()),
        )

    def mark_many(self, item_ids: list[str], state: str) -> None:
        """``mark`` for several ids, committed together."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO deliveries VALUES (?, ?, ?, ?) ON CONFLICT (id, target) DO UPDATE SET"
                " state = excluded.state, at = excluded.at",
                [(item_id, self.target, state, now) for item_id in item_ids],
            )

    def forget_older_than(self, cutoff: float) -> int:
        """Drop marks older than ``cutoff`` (an id re-enqueued after that would be sent again)."""
        return int(self.db.execute("DELETE FROM deliveries WHERE at < ?", (cutoff,)).rowcount)

    def close(self) -> None:
        self.db.close()


def target_of(backend: Any, config: dict[str, Any]) -> str:
    """Which store a delivery went to: backend name, URL and user."""
    url = getattr(backend, "base_url", None) or (config.get("mem0") or {}).get("base_url") or ""
    user = getattr(backend, "user_id", None) or config.get("user_id") or ""
    return f"{backend.name} {url} {user}"


# -- delivering --------------------------------------------------------------------------------------
class DrainResult:
    """What one drain did, and why it stopped.

    ``stopped``: None (went through the queue), ``"held"`` (the store is held back: nothing tried),
    ``"unavailable"`` (the store failed during this drain), ``"limit"``, ``"interrupted"`` (replay
    wants the lock) or ``"queue"`` (the queue itself could not be written).
    (A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, too dear for a hook.)
    """

    def __init__(self, **counts: Any) -> None:
        self.delivered = 0
        self.duplicates = 0  # already stored: acknowledged without sending again
        self.retried = 0  # failed this time, kept with a backoff
        self.dead = 0
        self.waiting = 0  # skipped: their own retry time has not come
        self.held_until: float | None = None  # the store is held back until then
        self.next_due_at: float | None = None  # earliest retry time among the skipped items
        self.stopped: str | None = None
        self.errors: list[str] = []
        self.revived = 0  # replay --dead: dead-lettered items moved back first
        self.kept_dead = 0  # replay --dead: unreadable dead-lettered files that stay
        for name, value in counts.items():
            if not hasattr(self, name):
                raise TypeError(f"DrainResult has no field {name!r}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"DrainResult({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class _StoreRaised(BackendError):
    """A store raised something that is not a BackendError (a bug, or an item it cannot take)."""

    retryable = True


def drain(
    backend: Any,
    config: dict[str, Any],
    *,
    limit: int | None = None,
    ignore_backoff: bool = False,
    progress: Callable[[DrainResult, int], None] | None = None,
    mirror: Any | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DrainResult:
    """Deliver due items (all items with ``ignore_backoff``) until done, ``limit``, or the store fails.

    The caller holds the flush lock. ``mirror`` (the local store, in fallback mode ``local``) receives
    every item too, before the remote does. ``progress(result, remaining)`` is called after each batch.
    """
    result = DrainResult()
    now = time.time()
    if not ignore_backoff:
        held = store_held_until()
        if held > now:
            result.held_until = held
            result.stopped = "held"
            return result
    remote = backend.name != "local"
    ledger = Ledger(target_of(backend, config)) if remote else None
    try:
        _Drain(backend, config, result, ledger=ledger, mirror=mirror).run(
            now=now, limit=limit, ignore_backoff=ignore_backoff, progress=progress, should_stop=should_stop
        )
    except QueueError as exc:
        # The queue itself cannot be written (read-only or full disk): stop; the items are still there.
        result.stopped = "queue"
        result.errors.append(str(exc))
    finally:
        if ledger is not None:
            ledger.close()
    if result.delivered or result.duplicates:
        release_store()
    return result


class _Drain:
    """One pass over the queue (state shared by the delivery steps of ``drain``)."""

    def __init__(
        self, backend: Any, config: dict[str, Any], result: DrainResult, *, ledger: Ledger | None, mirror: Any | None
    ) -> None:
        self.backend = backend
        self.config = config
        self.result = result
        self.ledger = ledger
        self.mirror = mirror
        self.max_attempts = int(config["queue"]["max_attempts"])

    def run(
        self,
        *,
        now: float,
        limit: int | None,
        ignore_backoff: bool,
        progress: Callable[[DrainResult, int], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        result = self.result
        names = queue.names()
        batch_size = self.batch_size()
        batch: list[tuple[str, dict[str, Any]]] = []
        handled = 0
        for index, name in enumerate(names):
            if should_stop is not None and should_stop():
                result.stopped = "interrupted"
                break
            try:
                record: dict[str, Any] | None = queue.read(name)
                error = None
            except FileNotFoundError:
                continue
            except queue.CorruptItem as exc:
                record, error = None, str(exc)
            if record is not None and not ignore_backoff:
                due = float(record.get("next_attempt_at", 0))
                if due > now:
                    result.waiting += 1
                    result.next_due_at = due if result.next_due_at is None else min(result.next_due_at, due)
                    continue
            if limit is not None and handled >= limit:
                result.stopped = "limit"
                break
            handled += 1
            if record is None:
                queue.dead_letter(name, None, f"corrupt queue item: {error}")
                result.dead += 1
                continue
            batch.append((name, record))
            if len(batch) >= batch_size:
                go_on = self.deliver(batch)
                batch = []
                if progress is not None:
                    progress(result, len(names) - index - 1)
                if not go_on:
                    return
        if batch:
            self.deliver(batch)
            if progress is not None:
                progress(result, queue.depth())

    def batch_size(self) -> int:
        """Items per delivery: a transaction's worth for the local store, a request's worth for a remote
        store that takes several (``takes_batches``: several turns of a session in one add), else one."""
        if not self.config["queue"].get("batch_operations", True):
            return 1
        if self.ledger is None:
            return LOCAL_BATCH
        return REMOTE_BATCH if getattr(self.backend, "takes_batches", False) else 1

    # -- one batch ---------------------------------------------------------------------------------
    def deliver(self, entries: list[tuple[str, dict[str, Any]]]) -> bool:
        """Deliver a batch; False when the store is unavailable and the drain must stop."""
        from mem0_hooks.backends.base import MemoryItem

        good: list[tuple[str, dict[str, Any], MemoryItem]] = []
        for name, record in entries:
            try:
                good.append((name, record, MemoryItem.from_dict(record["item"])))
            except (TypeError, ValueError) as exc:
                queue.dead_letter(name, record, f"not a deliverable item: {exc}")
                self.result.dead += 1
        if not good:
            return True
        if self.ledger is not None:
            if len(good) > 1:
                return self.deliver_remote_batch(good)
            return all(self.deliver_remote(*entry) for entry in good)
        try:
            self.backend.add([item for _, _, item in good])
        except Exception as exc:  # noqa: BLE001 - see _as_backend_error
            if len(good) > 1:
                # The store, or one item in the batch? One at a time: a store that is down fails the
                # first one too and the drain stops there; a bad item is dealt with alone.
                return all(self.deliver([(name, record)]) for name, record, _ in good)
            return self.settle_failure(good[0][0], good[0][1], _as_backend_error(exc, self.backend))
        for name, _, _ in good:
            queue.ack(name)
        self.result.delivered += len(good)
        return True

    def deliver_remote(self, name: str, record: dict[str, Any], item: MemoryItem) -> bool:
        import sqlite3

        assert self.ledger is not None
        result = self.result
        try:
            state = self.ledger.state(item.id)
            if state == DELIVERED:
                queue.ack(name)
                result.duplicates += 1
                return True
            if state == SENDING and _already_stored(self.backend, item):
                self.ledger.mark(item.id, DELIVERED)
                queue.ack(name)
                result.duplicates += 1
                return True
            if self.mirror is not None:
                try:
                    self.mirror.add([item])
                except Exception as exc:  # noqa: BLE001 - the copy is a convenience; the remote is the store
                    from mem0_hooks.log import log

                    log(f"local fallback copy failed: {exc}", level="WARNING")
            self.ledger.mark(item.id, SENDING)
            self.backend.add([item])
            self.ledger.mark(item.id, DELIVERED)
        except sqlite3.Error as exc:
            raise QueueError(f"delivery ledger {self.ledger.path} failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - see _as_backend_error
            return self.settle_failure(name, record, _as_backend_error(exc, self.backend))
        queue.ack(name)
        result.delivered += 1
        return True

    def deliver_remote_batch(self, good: list[tuple[str, dict[str, Any], MemoryItem]]) -> bool:
        """Deliver items to a store that takes several in one request: one request per run of items of
        the same session and project. Items already tried (delivered, or in doubt) go one by one."""
        assert self.ledger is not None
        fresh: list[tuple[str, dict[str, Any], MemoryItem]] = []
        for entry in good:
            if self.ledger.state(entry[2].id) is None:
                fresh.append(entry)
            elif not self.deliver_remote(*entry):
                return False
        runs: list[list[tuple[str, dict[str, Any], MemoryItem]]] = []
        for entry in fresh:
            item = entry[2]
            if runs and _same_thread(runs[-1][-1][2], item):
                runs[-1].append(entry)
            else:
                runs.append([entry])
        for run in runs:
            if not (self.deliver_remote(*run[0]) if len(run) == 1 else self.send_run(run)):
                return False
        return True

    def send_run(self, run: list[tuple[str, dict[str, Any], MemoryItem]]) -> bool:
        import sqlite3

        assert self.ledger is not None
        items = [item for _, _, item in run]
        ids = [item.id for item in items]
        try:
            if self.mirror is not None:
                try:
                    self.mirror.add(items)
                except Exception as exc:  # noqa: BLE001 - the copy is a convenience; the remote is the store
                    from mem0_hooks.log import log

                    log(f"local fallback copy failed: {exc}", level="WARNING")
            self.ledger.mark_many(ids, SENDING)
            self.backend.add_batch(items)
            self.ledger.mark_many(ids, DELIVERED)
        except sqlite3.Error as exc:
            raise QueueError(f"delivery ledger {self.ledger.path} failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - see _as_backend_error
            error = _as_backend_error(exc, self.backend)
            if not is_outage(error):
                # One item the store refuses must not take the others with it: one at a time (each is
                # in doubt now, so each is looked up before it is sent again).
                return all(self.deliver_remote(*entry) for entry in run)
            for name, record, _ in run:
                self.settle_failure(name, record, error)
            return False
        for name, _, _ in run:
            queue.ack(name)
        self.result.delivered += len(run)
        return True

    def settle_failure(self, name: str, record: dict[str, Any], exc: BackendError) -> bool:
        """Dead-letter, or back off the item (and the store); True when the drain may go on."""
        result = self.result
        result.errors.append(str(exc))
        attempts = int(record.get("attempts", 0)) + 1
        if not exc.retryable:
            queue.dead_letter(name, record, f"rejected by the {self.backend.name} store: {exc}")
            result.dead += 1
            return True
        outage = is_outage(exc)
        if not outage and attempts >= self.max_attempts:
            queue.dead_letter(name, record, f"gave up after {attempts} attempts: {exc}")
            result.dead += 1
            return True
        queue.retry_later(name, record, str(exc), backoff_delay(attempts, self.config, exc.retry_after))
        result.retried += 1
        result.held_until = hold_store(exc, self.config)
        result.stopped = "unavailable"
        return False


def _same_thread(a: MemoryItem, b: MemoryItem) -> bool:
    """Whether two items may share one add request (its run_id and metadata): same session and project."""
    return bool(a.session_id) and (a.session_id, a.project, a.scope) == (b.session_id, b.project, b.scope)


def _as_backend_error(exc: BaseException, backend: Any) -> BackendError:
    """A store's failure as a BackendError; anything else it raised counts as a failure of that item."""
    if isinstance(exc, BackendError):
        return exc
    return _StoreRaised(f"the {backend.name} store raised {type(exc).__name__}: {exc}")


def _already_stored(backend: Any, item: MemoryItem) -> bool:
    """Ask the store whether an in-doubt item arrived; False when it cannot tell (then it is sent again).

    A store that is unreachable for the question raises, so the item waits instead of risking a copy.
    """
    check = getattr(backend, "already_stored", None)
    if check is None:
        return False
    try:
        try:
            return bool(check(item.id, session_id=item.session_id or None))
        except TypeError:
            return bool(check(item.id))
    except BackendError as exc:
        if exc.retryable:
            raise
        return False


# -- housekeeping --------------------------------------------------------------------------------------
def record_result(result: DrainResult) -> None:
    changes: dict[str, Any] = {"last_flush_at": time.time()}
    if result.delivered or result.duplicates:
        changes["last_delivered_at"] = time.time()
    if result.errors:
        changes["last_error"] = result.errors[-1]
        changes["last_error_at"] = time.time()
    write_status(**changes)


def apply_retention(config: dict[str, Any]) -> None:
    """Forget memories and queue items older than ``privacy.auto_delete_after_days`` (hourly at most)."""
    days = config["privacy"]["auto_delete_after_days"]
    status = read_status()
    if time.time() - float(status.get("retention_at") or 0) < 3600:
        return
    if days:
        cutoff = time.time() - days * 86400
        queue.expire(cutoff)
        from mem0_hooks import injections

        injections.expire(cutoff)  # the prompts' first words go with the turns
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff))
        from mem0_hooks.config import keeps_local_index

        if keeps_local_index(config):
            from mem0_hooks.backends.local import LocalStore

            LocalStore().delete_older_than(iso)
        if config["backend"] == "openmemory":  # no expiration there (the other stores get expiration_date)
            from mem0_hooks.backends import open_backend

            try:
                forgotten = open_backend(config).delete_older_than(iso)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - retention must not stop delivery
                from mem0_hooks.log import log

                log(f"retention: could not forget old memories in OpenMemory: {exc}", level="WARNING")
                return  # tried again by the next flusher
            if forgotten:
                from mem0_hooks.log import log

                log(f"retention: forgot {forgotten} memories older than {days} days in OpenMemory")
    ledger_path = os.path.join(paths.queue_dir(), "delivered.sqlite3")
    if os.path.exists(ledger_path):
        ledger = Ledger("", ledger_path)
        try:
            ledger.forget_older_than(time.time() - LEDGER_KEEP_DAYS * 86400)
        finally:
            ledger.close()
    write_status(retention_at=time.time())


def open_targets(config: dict[str, Any]) -> tuple[Any, Any | None]:
    """The store to deliver to, and the local index beside a remote one (``mem0.local_index``)."""
    from mem0_hooks.backends import open_backend

    backend = open_backend(config)
    mirror = None
    from mem0_hooks.config import keeps_local_index

    if backend.name != "local" and keeps_local_index(config):
        from mem0_hooks.backends.local import LocalStore

        mirror = LocalStore()
    return backend, mirror


def close_targets(*stores: Any) -> None:
    """Close what ``open_targets`` opened (HTTP connections, SQLite handles); never raises."""
    for store in stores:
        close = getattr(store, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


def cap_local(config: dict[str, Any], *stores: Any) -> None:
    """Keep the local store among ``stores`` under ``memory.max_store_size_mb`` by forgetting its oldest
    memories (``LocalStore.shrink_to``); logged, never raised."""
    cap = config["memory"].get("max_store_size_mb")
    if not cap:
        return
    for store in stores:
        if store is None or getattr(store, "name", None) != "local":
            continue
        try:
            forgotten = store.shrink_to(int(cap * 1_000_000))
        except Exception as exc:  # noqa: BLE001 - e.g. the store busy: the next flush tries again
            from mem0_hooks.log import log

            log(f"could not keep the local store under {cap} MB: {exc}", level="WARNING")
            continue
        if forgotten:
            from mem0_hooks.log import log

            log(f"forgot the {forgotten} oldest memories to keep the local store under {cap} MB (max_store_size_mb)")
            write_status(size_cap_at=time.time(), size_cap_forgotten=forgotten)


def move_projects(*stores: Any) -> None:
    """Move the local store's memories still under the path of a directory whose identity is now its
    remote's (``project_map.move_local``: projects too big for a hook to move, items that arrived
    under the path later). A failure is logged, never raised: the next flusher tries again."""
    for store in stores:
        if store is None or getattr(store, "name", None) != "local":
            continue
        try:
            from mem0_hooks.project_map import move_local

            move_local(store)
        except Exception as exc:  # noqa: BLE001 - e.g. the store busy
            from mem0_hooks.log import log

            log(f"could not move memories to their project's identity: {exc}", level="WARNING")


def tidy_local(*stores: Any) -> None:
    """After drains that stored something: let the local store among ``stores`` (the target or the
    mirror) merge the pieces of its full-text index (``LocalStore.tidy``). A failure is logged, never
    raised: the store works as well unmerged, only a little slower."""
    for store in stores:
        if store is None or getattr(store, "name", None) != "local":
            continue
        try:
            if store.tidy() == "optimized":
                from mem0_hooks.log import log

                log("rewrote the local store's full-text index as one segment")
        except Exception as exc:  # noqa: BLE001 - e.g. the store busy: the next flush tries again
            from mem0_hooks.log import log

            log(f"could not merge the local store's full-text index: {exc}", level="WARNING")


# A warm process running with the model embeds what the hooks capture, a few turns at a time, between
# requests; a flusher loading the model for that would spend a third of a second of CPU on every prompt.
# A bigger backlog (an upgrade, an import) is the flusher's: a background job.
WARM_EMBEDS_UP_TO = 2000


def _warm_embeds(store: Any) -> bool:
    """Whether a warm process of this data dir is running (it embeds new turns for the store)."""
    from mem0_hooks import relay

    if os.path.abspath(store.path) != os.path.abspath(paths.store_db()):
        return False  # not the data dir's own store (a bench's, a test's): nobody else will embed it
    home = paths.home()
    try:
        names = os.listdir(relay.run_dir(home))
    except OSError:
        return False
    for name in names:
        if name.startswith("warm-") and name.endswith(".pid"):
            try:
                with open(os.path.join(relay.run_dir(home), name), encoding="utf-8") as fh:
                    os.kill(int(fh.read().split("\n", 1)[0]), 0)
                return True
            except (OSError, ValueError):
                continue
    return False


def embed_local(config: dict[str, Any], *stores: Any, should_stop: Any = None) -> bool:
    """Give the memories of the local store among ``stores`` that have no vector one (``vectors.index``),
    until done or ``should_stop()``; True when it stopped with work left. A failure (the model missing
    or damaged, the disk full) is logged once, not each time it recurs, and recall stays by words."""
    from mem0_hooks.recall import semantic_weight

    if not semantic_weight(config):
        return False
    from mem0_hooks import vectors
    from mem0_hooks.log import log

    for store in stores:
        if store is None or getattr(store, "name", None) != "local":
            continue
        try:
            if not vectors.needed(store):
                continue
            if _warm_embeds(store) and vectors.missing_estimate(store) < WARM_EMBEDS_UP_TO:
                continue  # the warm process has the model loaded: it embeds the new turns at no load cost
            progress = vectors.index(store, should_stop=should_stop)
        except Exception as exc:  # noqa: BLE001 - EmbeddingUnavailable, BackendError: recall stays lexical
            message = f"could not embed memories for semantic recall: {exc}"
            if read_status().get("vectors_error") != message:
                log(message, level="WARNING")
                write_status(vectors_error=message)
            return False
        if read_status().get("vectors_error"):
            write_status(vectors_error=None)
        if progress.done:
            log(f"embedded {progress.done} memories for semantic recall ({progress.rate():.0f}/s)")
        if should_stop is not None and should_stop():
            return True
    return False


def refresh_directory(backend: Any) -> None:
    """OpenMemory: read its listing into the directory of which project each memory is (its search
    answers text alone), when a hook asked or it is stale. A failure is logged, never raised."""
    refresh = getattr(backend, "refresh_directory", None)
    if refresh is None:
        return
    try:
        new = refresh()
    except Exception as exc:  # noqa: BLE001 - the directory is an aid to recall; delivery goes on
        from mem0_hooks.log import log

        log(f"could not read {backend.name}'s listing into its directory: {exc}", level="WARNING")
        return
    if new:
        from mem0_hooks.log import log

        log(f"{backend.name}: {new} memories new to this machine's directory (their projects are known now)")


def directory_due(config: dict[str, Any]) -> bool:
    """Whether a session start should start the flusher to refresh OpenMemory's directory."""
    if config["backend"] != "openmemory":
        return False
    from mem0_hooks.backends.openmemory import OpenMemoryBackend

    backend = OpenMemoryBackend(config)
    try:
        return bool(backend.directory.due(backend.owner))
    except Exception:  # noqa: BLE001 - an unreadable directory: let the flusher try
        return True
    finally:
        backend.directory.close()


def run_flusher(*, max_idle: float = MAX_IDLE_WAIT) -> int:
    """Drain until the queue is empty (or only long backoffs remain); one flusher at a time."""
    from mem0_hooks import config as config_mod
    from mem0_hooks.log import log

    try:
        from filelock import FileLock, Timeout
    except ImportError:
        # The plugin before its setup installed the dependencies: the items wait; the setup flushes them.
        log("the flusher waits for the plugin's setup to install its dependencies; the queue keeps the items")
        return 0

    os.umask(0o077)
    config = config_mod.load()
    queue.ensure_dirs()
    lock = FileLock(queue.lock_path(), mode=0o600)
    try:
        lock.acquire(timeout=LOCK_WAIT)
    except Timeout:
        return 0  # another flusher (or a replay) is at work
    backend = mirror = None
    stored = False  # since the index was last tidied
    try:
        removed = queue.clean_temp()
        if removed:
            log(f"removed {removed} temp file(s) left by interrupted queue writers")
        _clean_status_temp()
        apply_retention(config)
        backend, mirror = open_targets(config)
        move_projects(backend, mirror)
        idle_since = time.monotonic()
        while True:
            if lock_requested():
                return 0
            changed_at = queue.pending_changed_at()
            result = drain(backend, config, mirror=mirror, should_stop=lock_requested)
            record_result(result)
            # (a retried item reached the local mirror, if there is one, before the remote failed)
            stored = stored or bool(result.delivered or result.retried)
            if result.delivered or result.dead or result.duplicates:
                log(
                    f"flushed to {backend.name}: {result.delivered} delivered, {result.duplicates} already there, "
                    f"{result.retried} to retry, {result.dead} dead-lettered, {queue.depth()} pending"
                )
                idle_since = time.monotonic()
            for error in result.errors[-1:]:
                log(f"delivery to {backend.name} failed: {error}", level="WARNING")
            if result.stopped in ("interrupted", "queue"):
                return 0
            if queue.depth() == 0:
                if embed_local(config, backend, mirror, should_stop=lambda: lock_requested() or queue.depth() > 0):
                    continue  # new items came (or a replay asked for the lock): deliver them first
                refresh_directory(backend)
                if stored:
                    move_projects(backend, mirror)  # items captured under a path before its identity changed
                    cap_local(config, backend, mirror)
                    tidy_local(backend, mirror)  # (holding the lock: no other flusher writes meanwhile)
                    stored = False
                # Release first, then look once more: a hook that saw the lock held started no flusher.
                lock.release()
                if queue.depth() == 0:
                    return 0
                try:
                    lock.acquire(timeout=LOCK_WAIT)
                except Timeout:
                    return 0
                continue
            now = time.time()
            held = result.stopped in ("held", "unavailable")
            wake = (result.held_until or now) if held else (result.next_due_at or now)
            if not (result.delivered or result.duplicates or result.dead or result.retried):
                wake = max(wake, now + TICK)  # nothing moved: never spin
            if wake - now > max_idle or time.monotonic() - idle_since > max_idle:
                return 0
            # Sleep holding the lock, but wake for new items (unless the store is held back) and step
            # aside at once for `mem0-hooks replay`.
            while time.time() < wake:
                if lock_requested():
                    return 0
                if not held and queue.pending_changed_at() != changed_at:
                    break
                time.sleep(min(TICK, max(wake - time.time(), 0.0)))
    finally:
        if stored and lock.is_locked and not lock_requested():
            cap_local(config, backend, mirror)
            tidy_local(backend, mirror)  # leaving with the queue not empty (idle, long backoffs)
        if lock.is_locked:
            lock.release()
        close_targets(backend, mirror)


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
