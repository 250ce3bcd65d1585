"""``replay``: drain the queue by hand, now, with progress; ``--dead`` retries dead-lettered items.

Backoffs are ignored (the user asked for it now), but the first failure of an unavailable store
stops the run: the rest stay queued for the background flusher. Exit 1 when any item this run
tried could not be delivered (dead-lettered, kept for retry, or the store/queue failed).
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from mem0_hooks import queue
from mem0_hooks.cli._common import FatalError, ProgressLine, ago, load_config, time_left

MAX_REASONS_SHOWN = 20


def drain_now(
    config: dict[str, Any],
    *,
    quiet: bool = False,
    limit: int | None = None,
    show_progress: bool = False,
    revive: bool = False,
) -> Any:
    """Take the flush lock (a background flusher steps aside) and deliver, backoffs ignored.

    With ``revive`` the dead-lettered items go back to the queue first, under the same lock (a flusher
    dead-lettering at the same moment could otherwise remove a revived item). Returns the
    ``flush.DrainResult`` (with ``revived`` and ``kept_dead`` attributes when ``revive``).
    """
    from mem0_hooks import flush

    lock = flush.take_lock(quiet=quiet)
    backend = mirror = None
    try:
        revived = kept = 0
        if revive:
            revived, kept = queue.revive_dead()
        total = queue.depth()
        backend, mirror = flush.open_targets(config)
        reporter = _Progress(min(total, limit) if limit is not None else total) if show_progress else None
        try:
            result = flush.drain(
                backend,
                config,
                limit=limit,
                ignore_backoff=True,
                mirror=mirror,
                progress=reporter.update if reporter else None,
            )
        finally:
            if reporter:
                reporter.done()
        flush.record_result(result)
        if result.delivered or result.retried:  # (a retried item reached the local mirror, if any)
            flush.tidy_local(backend, mirror)
            flush.embed_local(config, backend, mirror)  # as the flusher does: recall by meaning needs them
        result.revived, result.kept_dead = revived, kept
        return result
    finally:
        flush.close_targets(backend, mirror)
        lock.release()


class _Progress(ProgressLine):
    """Replay's line: done, rate, remaining, time left."""

    def __init__(self, total: int, stream: TextIO | None = None, *, interval: float = 0.1) -> None:
        super().__init__(stream, interval=interval)
        self.total = total
        self.started = time.monotonic()

    def update(self, result: Any, remaining: int) -> None:
        if not self.due():
            return
        done = result.delivered + result.duplicates + result.dead + result.retried
        rate = done / max(self.last - self.started, 1e-6)
        left = max(min(remaining, self.total - done), 0)
        self.show(f"{done}/{self.total} done, {rate:.0f}/s, {left} remaining{time_left(left, rate)}")


def _dry_run(config: dict[str, Any], *, dead: bool, limit: int | None) -> int:
    from mem0_hooks import flush

    pending = queue.depth()
    dead_records = queue.dead_items()
    revivable = [r for r in dead_records if isinstance(r.get("item"), dict)]
    would = pending + (len(revivable) if dead else 0)
    if limit is not None:
        would = min(would, limit)
    parts = [f"{pending} pending"]
    if dead:
        parts.append(f"{len(revivable)} dead-lettered to retry")
        if len(dead_records) > len(revivable):
            parts.append(f"{len(dead_records) - len(revivable)} unreadable dead-lettered file(s) that stay")
    elif dead_records:
        parts.append(f"{len(dead_records)} dead-lettered not included: add --dead")
    print(f"dry run: would deliver {would} item(s) to the {config['backend']} store ({', '.join(parts)}); nothing sent")
    if dead:
        for record in dead_records[:MAX_REASONS_SHOWN]:
            print(f"  dead {record.get('name')}: {record.get('dead_reason')}")
        if len(dead_records) > MAX_REASONS_SHOWN:
            print(f"  ... and {len(dead_records) - MAX_REASONS_SHOWN} more")
    held = flush.store_held_until()
    if held > time.time():
        print(
            f"the store is held back after failures for another {held - time.time():.0f}s; "
            "replay would try it now anyway"
        )
    return 0


def replay(*, dead: bool, dry_run: bool, limit: int | None) -> int:
    if limit is not None and limit < 1:
        raise FatalError("--limit must be at least 1")
    config = load_config()
    if dry_run:
        return _dry_run(config, dead=dead, limit=limit)
    if not dead and queue.depth() == 0:
        print("queue is empty: nothing to deliver" + _dead_note())
        return 0
    waiting = queue.depth() + (queue.depth(queue.DEAD) if dead else 0)
    target = min(waiting, limit) if limit is not None else waiting
    print(f"delivering {target} item(s) to the {config['backend']} store...", flush=True)
    started = time.monotonic()
    result = drain_now(config, limit=limit, show_progress=True, revive=dead)
    elapsed = time.monotonic() - started
    if dead:
        print(f"moved {result.revived} dead-lettered item(s) back to the queue")
        if result.kept_dead:
            print(
                f"{result.kept_dead} dead-lettered file(s) hold no readable item and stay in {queue.dead_dir()}",
                file=sys.stderr,
            )
    left = queue.depth()
    tried = result.delivered + result.duplicates + result.retried + result.dead
    if tried == 0 and left == 0:
        print("queue is empty: nothing to deliver" + _dead_note())
        return 0
    print(
        f"delivered {result.delivered}, already stored {result.duplicates}, dead-lettered {result.dead}, "
        f"kept for retry {result.retried}; {left} still queued ({elapsed:.1f}s)"
    )
    failed = bool(result.dead or result.retried or result.stopped in ("unavailable", "queue"))
    if result.stopped == "unavailable":
        print(f"stopped: the {config['backend']} store is unavailable: {result.errors[-1]}", file=sys.stderr)
        print(
            "the queued items wait; the background flusher retries them with backoff, or run `mem0-hooks replay` again",
            file=sys.stderr,
        )
    elif result.stopped == "queue":
        print(f"stopped: the queue cannot be written: {result.errors[-1]}", file=sys.stderr)
    elif result.errors:
        print(f"last error: {result.errors[-1]}", file=sys.stderr)
    if result.dead:
        print(
            f"{result.dead} item(s) dead-lettered: see the reasons with `mem0-hooks status`; "
            "retry with `mem0-hooks replay --dead` once the cause is fixed",
            file=sys.stderr,
        )
    if not failed and left and limit is None:
        print(f"{left} item(s) arrived while replaying; they are delivered in the background", file=sys.stderr)
    return 1 if failed else 0


def _dead_note() -> str:
    dead = queue.depth(queue.DEAD)
    if not dead:
        return ""
    newest = max((r.get("dead_at") or 0 for r in queue.dead_items()), default=0)
    return f" ({dead} dead-lettered, last {ago(newest)}: `mem0-hooks replay --dead` retries them)"
