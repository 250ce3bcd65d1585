"""``replay``: drain the queue by hand, now, with progress; ``--dead`` retries dead-lettered items."""

from __future__ import annotations

import sys
import time
from typing import Any

from mem0_hooks import queue
from mem0_hooks.cli._common import FatalError, load_config

LOCK_WAIT_SECONDS = 30


def drain_now(
    config: dict[str, Any], *, quiet: bool = False, limit: int | None = None, show_progress: bool = False
) -> Any:
    """Take the flush lock (waiting for a background flusher) and deliver everything, backoffs ignored."""
    from filelock import FileLock, Timeout

    from mem0_hooks import flush

    lock = FileLock(queue.lock_path())
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not quiet:
            print(f"waiting for the background flusher (up to {LOCK_WAIT_SECONDS}s)...", file=sys.stderr)
        try:
            lock.acquire(timeout=LOCK_WAIT_SECONDS)
        except Timeout:
            raise FatalError("another flusher holds the queue lock; try again in a minute") from None
    try:
        backend, mirror = flush.open_targets(config)
        started = time.monotonic()
        reporter = _Progress(started) if show_progress else None
        result = flush.drain(
            backend, config, limit=limit, ignore_backoff=True, mirror=mirror,
            progress=reporter.update if reporter else None,
        )
        if reporter:
            reporter.done()
        flush.record_result(result)
        return result
    finally:
        lock.release()


class _Progress:
    """One rewritten line on a terminal: done, rate, remaining."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, result: Any, remaining: int) -> None:
        now = time.monotonic()
        if not self.tty or now - self.last < 0.1:
            return
        self.last = now
        done = result.delivered + result.duplicates + result.dead
        rate = done / max(now - self.started, 1e-6)
        sys.stderr.write(f"\r  {done} done, {rate:.0f}/s, {remaining} remaining   ")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * 60 + "\r")


def replay(*, dead: bool, dry_run: bool, limit: int | None) -> int:
    config = load_config()
    if dry_run:
        pending = queue.depth()
        dead_count = queue.depth(queue.DEAD)
        would = pending + (dead_count if dead else 0)
        if limit is not None:
            would = min(would, limit)
        print(f"dry run: would deliver {would} item(s) to the {config['backend']} store "
              f"({pending} pending, {dead_count} dead-lettered{'' if dead else '; --dead to include them'})")
        for record in queue.dead_items()[:20] if dead else []:
            print(f"  dead: {record.get('name')}: {record.get('dead_reason')}")
        return 0
    if dead:
        revived = queue.revive_dead()
        print(f"moved {revived} dead-lettered item(s) back to the queue")
    total = queue.depth()
    if total == 0:
        print("queue is empty: nothing to deliver")
        return 0
    print(f"delivering {min(total, limit) if limit else total} item(s) to the {config['backend']} store...")
    started = time.monotonic()
    result = drain_now(config, limit=limit, show_progress=True)
    elapsed = time.monotonic() - started
    left = queue.depth()
    print(
        f"delivered {result.delivered}, already stored {result.duplicates}, "
        f"failed and kept for retry {result.retried}, dead-lettered {result.dead}, "
        f"{left} still queued ({elapsed:.1f}s)"
    )
    if result.errors:
        print(f"last error: {result.errors[-1]}", file=sys.stderr)
    if result.dead:
        print("see them with `mem0-hooks status`; retry with `mem0-hooks replay --dead`", file=sys.stderr)
    return 1 if (result.retried or result.dead or (left and limit is None)) else 0
