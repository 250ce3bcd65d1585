"""The flusher's rules: backoff, outages vs bad items, dead letters, the ledger, the lock, replay and status."""

from __future__ import annotations

import io
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from mem0_hooks import flush, paths, queue
from mem0_hooks.backends.local import LocalStore
from mem0_hooks.cli.main import main
from mem0_hooks.errors import BackendRejected, BackendUnavailable
from tests.support.stores import (
    InProcessStore,
    StoreCrash,
    config_dict,
    enqueue_turns,
    flusher_env,
    kill,
    local_rows,
    make_turns,
    read_log,
    rejected,
    start_flusher,
    unavailable,
    wait_for,
    write_config,
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_due() -> None:
    """Every pending item due now, and the store not held (as if the backoffs had passed)."""
    for name in queue.names():
        record = queue.read(name)
        record["next_attempt_at"] = 0
        queue._write_atomic(str(Path(paths.queue_dir()) / queue.PENDING), name, record)
    flush.write_status(held_until=None)


# -- backoff ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("attempts", range(1, 16))
def test_backoff_grows_exponentially_with_jitter_within_bounds(attempts: int) -> None:
    config = config_dict(backoff_base_seconds=2.0, backoff_max_seconds=600.0)
    ceiling = min(600.0, 2.0 * 2 ** (attempts - 1))
    delays = [flush.backoff_delay(attempts, config) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1  # jittered


def test_backoff_honours_retry_after_but_not_an_absurd_one() -> None:
    config = config_dict(backoff_base_seconds=2.0, backoff_max_seconds=10.0)
    assert flush.backoff_delay(1, config, retry_after=30) == 30
    assert 1.0 <= flush.backoff_delay(1, config, retry_after=0.5) <= 2.0  # a shorter one does not shorten it
    assert flush.backoff_delay(1, config, retry_after=10**9) == flush.MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (unavailable(None), True),
        (unavailable(429), True),
        (unavailable(503), True),
        (unavailable(502), True),
        (unavailable(408), True),
        (unavailable(500), False),
        (rejected(400), False),
        (rejected(401), False),
    ],
)
def test_outage_or_item_failure(error: Any, outage: bool) -> None:
    assert flush.is_outage(error) is outage


# -- draining into the local store ------------------------------------------------------------------
def test_drain_local_delivers_everything_once_and_empties_the_queue(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flush, "LOCAL_BATCH", 20)
    ids = enqueue_turns(45)
    queue.enqueue(make_turns(10))  # the same ten turns captured twice: same ids
    result = flush.drain(LocalStore(), config_dict())
    assert result.delivered == 55 and result.dead == 0 and result.stopped is None
    rows = local_rows()
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert queue.depth() == 0


def test_drain_dead_letters_a_corrupt_item_and_delivers_the_rest(data_home: Path) -> None:
    ids = enqueue_turns(3)
    bad = Path(paths.queue_dir()) / queue.PENDING / "00000000000000000001-bad.json"
    bad.write_bytes(b'{"item": {"id": "bad", "text": "trunc')
    result = flush.drain(LocalStore(), config_dict())
    assert (result.delivered, result.dead) == (3, 1)
    assert {r[0] for r in local_rows()} == set(ids)
    (dead,) = queue.dead_items()
    assert dead["dead_reason"].startswith("corrupt queue item: not valid JSON")


def test_a_poison_item_in_a_local_batch_does_not_hold_back_the_others(data_home: Path) -> None:
    ids = enqueue_turns(5)
    store = InProcessStore("local")
    store.poison[ids[2]] = ValueError("cannot store this one")
    config = config_dict(max_attempts=3)
    result = flush.drain(store, config)
    assert result.delivered == 2 and result.retried == 1  # stopped at the bad one, held back
    flush.write_status(held_until=None)  # the store's hold is over, the item's own backoff is not
    result = flush.drain(store, config)
    assert result.delivered == 2 and result.waiting == 1  # the rest went through; the bad one waits
    for _ in range(2):
        make_due()
        flush.drain(store, config)
    assert set(store.adds) == set(ids) - {ids[2]}
    (dead,) = queue.dead_items()
    assert dead["dead_reason"] == "gave up after 3 attempts: the local store raised ValueError: cannot store this one"
    assert queue.depth() == 0


# -- failures ---------------------------------------------------------------------------------------
def test_an_outage_holds_the_queue_back_and_never_dead_letters(data_home: Path) -> None:
    ids = enqueue_turns(3)
    store = InProcessStore()
    store.fail_always = unavailable(None)
    config = config_dict(max_attempts=2, backoff_base_seconds=10.0)
    for _ in range(5):
        make_due()
        result = flush.drain(store, config)
        assert result.stopped == "unavailable" and result.retried == 1 and result.dead == 0
    assert store.calls == 5  # one probe per drain, not one per item
    assert queue.depth() == 3 and queue.depth(queue.DEAD) == 0
    status = flush.read_status()
    assert status["store_failures"] == 5 and status["held_until"] > time.time() + 5
    calls = store.calls
    result = flush.drain(store, config)  # held: the store is not even asked
    assert result.stopped == "held" and store.calls == calls
    store.fail_always = None
    result = flush.drain(store, config, ignore_backoff=True)  # replay does not wait
    assert result.delivered == 3 and set(store.adds) == set(ids)
    assert flush.read_status()["store_failures"] == 0 and not flush.read_status()["held_until"]


def test_retry_after_holds_the_store_at_least_that_long(data_home: Path) -> None:
    enqueue_turns(2)
    store = InProcessStore()
    store.fail_next = [unavailable(429, retry_after=40)]
    before = time.time()
    result = flush.drain(store, config_dict(backoff_base_seconds=0.1))
    assert result.stopped == "unavailable"
    assert result.held_until is not None and result.held_until >= before + 40
    first = queue.read(queue.names()[0])
    assert first["attempts"] == 1 and first["next_attempt_at"] >= before + 40


def test_an_item_that_keeps_failing_on_its_own_is_dead_lettered_after_max_attempts(data_home: Path) -> None:
    ids = enqueue_turns(3)
    store = InProcessStore()
    store.poison[ids[0]] = unavailable(500)
    config = config_dict(max_attempts=3)
    for _ in range(4):
        make_due()
        flush.drain(store, config)
    assert set(store.adds) == set(ids[1:])  # the others were not blocked behind it
    (dead,) = queue.dead_items()
    assert dead["item"]["id"] == ids[0]
    assert dead["dead_reason"].startswith("gave up after 3 attempts: store unavailable (test) (HTTP 500)")
    assert queue.depth() == 0


def test_a_rejected_item_is_dead_lettered_at_once_and_the_drain_goes_on(data_home: Path) -> None:
    ids = enqueue_turns(3)
    store = InProcessStore()
    store.poison[ids[1]] = rejected(422)
    result = flush.drain(store, config_dict())
    assert (result.delivered, result.dead, result.stopped) == (2, 1, None)
    (dead,) = queue.dead_items()
    assert dead["dead_reason"] == (
        "rejected by the server store: store rejected the item (test) (HTTP 422) server said: bad input"
    )


# -- exactly once into a remote store ---------------------------------------------------------------
def test_a_crash_after_the_store_took_an_item_does_not_send_it_twice(data_home: Path) -> None:
    ids = enqueue_turns(3)
    store = InProcessStore()
    store.crash_after_add = {ids[1]}
    with pytest.raises(StoreCrash):
        flush.drain(store, config_dict())  # "killed" between the store's 200 and the ledger write
    assert queue.depth() == 2  # the item is still queued: delivery is at least once ...
    result = flush.drain(store, config_dict())
    assert result.duplicates == 1 and result.delivered == 1
    assert store.checks == [ids[1]]  # ... and only the item in doubt was looked up
    assert all(store.adds[i] == 1 for i in ids)  # ... but the effect is exactly once


def test_without_already_stored_an_item_in_doubt_is_sent_again(data_home: Path) -> None:
    """The documented residual: a backend that cannot answer ``already_stored`` gets a second copy."""
    ids = enqueue_turns(1)
    store = InProcessStore(with_already_stored=False)
    store.crash_after_add = {ids[0]}
    with pytest.raises(StoreCrash):
        flush.drain(store, config_dict())
    flush.drain(store, config_dict())
    assert store.adds[ids[0]] == 2


def test_an_item_in_doubt_waits_while_the_store_cannot_say(data_home: Path) -> None:
    ids = enqueue_turns(1)
    store = InProcessStore()
    store.crash_after_add = {ids[0]}
    with pytest.raises(StoreCrash):
        flush.drain(store, config_dict())
    store.check_error = unavailable(None)
    result = flush.drain(store, config_dict())
    assert result.stopped == "unavailable" and store.adds[ids[0]] == 1
    store.check_error = None
    make_due()
    result = flush.drain(store, config_dict())
    assert result.duplicates == 1 and store.adds[ids[0]] == 1


def test_an_id_delivered_before_is_acknowledged_without_sending(data_home: Path) -> None:
    ids = enqueue_turns(2)
    store = InProcessStore()
    flush.drain(store, config_dict())
    queue.enqueue(make_turns(2))  # captured again (a transcript re-read)
    result = flush.drain(store, config_dict())
    assert result.duplicates == 2 and result.delivered == 0
    assert all(store.adds[i] == 1 for i in ids) and store.checks == []


def test_the_ledger_is_per_store(data_home: Path) -> None:
    ids = enqueue_turns(1)
    first = InProcessStore()
    flush.drain(first, config_dict())
    queue.enqueue(make_turns(1))
    second = InProcessStore()
    second.base_url = "http://another.test"
    result = flush.drain(second, config_dict())
    assert result.delivered == 1 and second.adds[ids[0]] == 1


def test_the_fallback_mirror_gets_every_item_too(data_home: Path) -> None:
    ids = enqueue_turns(3)
    flush.drain(InProcessStore(), config_dict(), mirror=LocalStore())
    assert {r[0] for r in local_rows()} == set(ids)


# -- the flusher process ------------------------------------------------------------------------------
def test_run_flusher_drains_and_exits_with_private_files(data_home: Path) -> None:
    ids = enqueue_turns(20)
    assert flush.run_flusher() == 0
    assert {r[0] for r in local_rows()} == set(ids)
    assert "flushed to local: 20 delivered" in read_log()
    for path in (Path(queue.lock_path()), Path(paths.state_file(flush.STATUS_FILE))):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_run_flusher_leaves_the_local_index_in_few_pieces(data_home: Path) -> None:
    def pieces() -> int:
        store = LocalStore()
        try:
            return store.db.execute("SELECT count(DISTINCT segid) FROM memories_fts_idx").fetchone()[0]
        finally:
            store.close()

    for stop in range(6):  # six earlier flushes, each of one Stop: six pieces
        enqueue_turns(2, session=f"s{stop}")
        flush.drain(LocalStore(), config_dict())
    before = pieces()
    assert before >= 6
    ids = enqueue_turns(3, session="s9")
    assert flush.run_flusher() == 0
    assert ids[0] in {r[0] for r in local_rows()}
    assert pieces() < before  # the flusher tidied the index (LocalStore.tidy) once the queue was empty


def test_a_store_too_busy_to_tidy_is_logged_not_raised(data_home: Path) -> None:
    import sqlite3

    for stop in range(3):
        enqueue_turns(2, session=f"s{stop}")
        flush.drain(LocalStore(), config_dict())
    store = LocalStore(timeout=0.1)
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the store
    try:
        flush.tidy_local(store)
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()
    assert "could not merge the local store's full-text index" in read_log()


def test_run_flusher_writes_a_private_ledger_for_a_remote_store(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue_turns(2)
    store = InProcessStore()
    monkeypatch.setattr(flush, "open_targets", lambda config: (store, None))
    assert flush.run_flusher() == 0
    assert sum(store.adds.values()) == 2
    ledger = Path(paths.queue_dir()) / "delivered.sqlite3"
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600


def test_run_flusher_steps_aside_when_another_holds_the_lock(data_home: Path) -> None:
    from filelock import FileLock

    enqueue_turns(2)
    with FileLock(queue.lock_path()):
        assert flush.flusher_running()
        started = time.monotonic()
        assert flush.run_flusher() == 0
        assert time.monotonic() - started < 5
        assert queue.depth() == 2
    assert not flush.flusher_running()


def test_a_lock_left_by_a_killed_flusher_does_not_block_the_next(data_home: Path) -> None:
    enqueue_turns(2)
    code = (
        "import sys, time; from filelock import FileLock; "
        f"lock = FileLock({queue.lock_path()!r}); lock.acquire(); print('locked', flush=True); time.sleep(60)"
    )
    holder = start_flusher(flusher_env(data_home), code=code)
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    assert flush.flusher_running()
    assert kill(holder)
    assert not flush.flusher_running()
    assert flush.run_flusher() == 0
    assert queue.depth() == 0


def test_the_flusher_exits_when_the_store_is_held_for_long(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue_turns(1)
    flush.write_status(held_until=time.time() + 3600, store_failures=7)
    store = InProcessStore()
    monkeypatch.setattr(flush, "open_targets", lambda config: (store, None))
    started = time.monotonic()
    assert flush.run_flusher() == 0
    assert time.monotonic() - started < 5 and store.calls == 0 and queue.depth() == 1


def test_the_flusher_waits_out_a_short_backoff_then_delivers(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = enqueue_turns(2)
    write_config(data_home, queue={"backoff_base_seconds": 0.2, "backoff_max_seconds": 0.4})
    store = InProcessStore()
    store.fail_next = [unavailable(503), unavailable(None)]
    monkeypatch.setattr(flush, "open_targets", lambda config: (store, None))
    assert flush.run_flusher() == 0
    assert all(store.adds[i] == 1 for i in ids) and queue.depth() == 0
    assert store.calls == 4


def test_spawn_starts_one_flusher_only_when_it_can_do_something(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    started: list[list[str]] = []
    monkeypatch.setattr(os, "posix_spawn", lambda path, argv, env, **kw: started.append(argv))
    flush.spawn()
    assert len(started) == 1 and "from mem0_hooks.flush import main" in started[0][-1]
    with FileLock(queue.lock_path()):
        flush.spawn()  # one is at work already
    flush.write_status(held_until=time.time() + 3600)
    flush.spawn()  # the store asked for a long pause: a flusher would only exit again
    flush.write_status(held_until=time.time() + 5)
    flush.spawn()  # a short one: the flusher waits it out
    assert len(started) == 2


def test_a_sleeping_flusher_makes_way_for_replay(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = enqueue_turns(3)
    name = queue.names()[0]
    queue.retry_later(name, queue.read(name), "earlier failure", delay=20)  # the flusher will sleep on it
    proc = start_flusher(flusher_env(data_home))
    try:
        wait_for(lambda: queue.depth() == 1 and flush.flusher_running(), what="the flusher to sleep")
        started = time.monotonic()
        code, out, err = run(capsys, "replay")
        assert code == 0, err
        assert time.monotonic() - started < 10
        assert "delivered 1, already stored 0, dead-lettered 0, kept for retry 0; 0 still queued" in out
        assert "step aside" in err
        assert proc.wait(10) == 0
    finally:
        kill(proc)
    assert {r[0] for r in local_rows()} == set(ids)
    assert not os.path.exists(os.path.join(paths.queue_dir(), flush.REPLAY_REQUEST))


# -- replay ---------------------------------------------------------------------------------------------
def test_replay_on_an_empty_queue(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "replay") == (0, "queue is empty: nothing to deliver\n", "")


def test_replay_delivers_with_a_summary(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = enqueue_turns(5)
    code, out, err = run(capsys, "replay")
    assert code == 0, err
    assert out.splitlines()[-1].startswith(
        "delivered 5, already stored 0, dead-lettered 0, kept for retry 0; 0 still queued"
    )
    assert {r[0] for r in local_rows()} == set(ids)


def test_replay_dry_run_sends_nothing(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue_turns(4)
    queue.dead_letter(queue.names()[0], queue.read(queue.names()[0]), "rejected by the server store: HTTP 400")
    code, out, _ = run(capsys, "replay", "--dry-run")
    assert code == 0
    assert out.startswith(
        "dry run: would deliver 3 item(s) to the local store (3 pending, "
        "1 dead-lettered not included: add --dead); nothing sent"
    )
    code, out, _ = run(capsys, "replay", "--dry-run", "--dead", "--limit", "2")
    assert "would deliver 2 item(s)" in out and "1 dead-lettered to retry" in out
    assert "rejected by the server store: HTTP 400" in out
    assert queue.depth() == 3 and local_rows() == []


def test_replay_limit_delivers_that_many(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue_turns(5)
    code, out, _ = run(capsys, "replay", "--limit", "2")
    assert code == 0
    assert "delivered 2, already stored 0, dead-lettered 0, kept for retry 0; 3 still queued" in out
    assert len(local_rows()) == 2
    assert run(capsys, "replay", "--limit", "0")[0] == 1


def test_replay_fails_when_the_store_is_down(
    data_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    enqueue_turns(3)
    store = InProcessStore()
    store.fail_always = unavailable(None)
    monkeypatch.setattr(flush, "open_targets", lambda config: (store, None))
    code, out, err = run(capsys, "replay")
    assert code == 1
    assert "delivered 0, already stored 0, dead-lettered 0, kept for retry 1; 3 still queued" in out
    assert "stopped: the local store is unavailable: store unavailable (test)" in err
    code, _, err = run(capsys, "replay")  # replay ignores the hold it just caused
    assert code == 1 and store.calls == 2


def test_replay_dead_retries_dead_letters_and_reports_what_stays(
    data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = enqueue_turns(2)
    for name in queue.names():
        queue.dead_letter(name, queue.read(name), "gave up after 10 attempts: HTTP 500")
    Path(queue.dead_dir(), "00000000000000000001-junk.json").write_text("{")
    code, out, _ = run(capsys, "replay")
    assert code == 0 and "3 dead-lettered" in out and "replay --dead" in out
    code, out, err = run(capsys, "replay", "--dead")
    assert code == 0, err
    assert "moved 2 dead-lettered item(s) back to the queue" in out
    assert "delivered 2," in out
    assert "1 dead-lettered file(s) hold no readable item and stay in" in err
    assert {r[0] for r in local_rows()} == set(ids)


def test_replay_exits_non_zero_when_something_is_dead_lettered(
    data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue_turns(2)
    Path(paths.queue_dir(), queue.PENDING, "00000000000000000001-bad.json").write_text("")
    code, out, err = run(capsys, "replay")
    assert code == 1
    assert "delivered 2, already stored 0, dead-lettered 1" in out
    assert "replay --dead" in err


def test_replay_shows_progress_on_a_terminal(
    data_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mem0_hooks.cli import replay

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    progress = replay._Progress(1000, terminal, interval=0)
    result = flush.DrainResult(delivered=250)
    progress.update(result, 750)
    assert terminal.getvalue().startswith("\r  250/1000 done, ")
    assert "/s, 750 remaining, ~" in terminal.getvalue()
    progress.done()
    assert terminal.getvalue().endswith("\r\x1b[K")

    monkeypatch.setattr(flush, "LOCAL_BATCH", 20)
    enqueue_turns(45)  # three batches of the local store: three updates
    fake = Terminal()
    monkeypatch.setattr("sys.stderr", fake)
    monkeypatch.setattr(replay._Progress, "__init__", _fast_progress_init(replay._Progress.__init__))
    assert main(["replay"]) == 0
    shown = fake.getvalue()
    assert "20/45 done" in shown and "25 remaining" in shown and "40/45 done" in shown
    assert shown.endswith("\r\x1b[K")  # the progress line is wiped before the summary


def _fast_progress_init(real: Any) -> Any:
    def init(self: Any, total: int, stream: Any = None, *, interval: float = 0.1) -> None:
        real(self, total, stream, interval=0)

    return init


def test_progress_is_silent_when_not_a_terminal(
    data_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flush, "LOCAL_BATCH", 20)
    enqueue_turns(45)
    code, out, err = run(capsys, "replay")
    assert code == 0 and err == "" and "\r" not in out


# -- status ---------------------------------------------------------------------------------------------
def test_status_shows_the_queue_dead_letters_and_the_hold(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue_turns(3)
    queue.dead_letter(queue.names()[0], queue.read(queue.names()[0]), "rejected by the server store: HTTP 400")
    flush.write_status(
        held_until=time.time() + 120, store_failures=4, last_error="connection refused", last_error_at=time.time()
    )
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "queue         2 pending (cap 20000), 1 dead-lettered" in out
    assert "  dead: rejected by the server store: HTTP 400" in out
    assert "replay --dead" in out
    assert "next try      in 1" in out and "4 failure(s) in a row" in out
    assert "last error" in out and "connection refused" in out
    code, out, _ = run(capsys, "status", "--json")
    info = json.loads(out)
    assert info["queue_pending"] == 2 and info["queue_cap"] == 20000 and info["queue_full"] is None
    assert info["store_failures"] == 4


def test_status_shows_a_full_queue(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue.enqueue(make_turns(10), max_items=10)
    with pytest.raises(queue.QueueFull):
        queue.enqueue(make_turns(2, session="x"), max_items=10)
    config = data_home / "config.yaml"
    config.write_text(config.read_text() + "queue:\n  max_items: 10\n")
    code, out, _ = run(capsys, "status")
    assert "queue full    cap queue.max_items=10 reached: 2 new item(s) refused, last " in out


def test_status_shows_a_running_flusher(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from filelock import FileLock

    with FileLock(queue.lock_path()):
        code, out, _ = run(capsys, "status")
    assert "(flusher running)" in out


def test_a_killed_replay_does_not_stop_future_flushers(data_home: Path) -> None:
    flush.request_lock()
    assert not flush.lock_requested()  # our own request: we are the replay
    path = Path(paths.queue_dir()) / flush.REPLAY_REQUEST
    path.write_text(json.dumps({"pid": 4206942, "at": time.time()}))  # a replay that died
    assert not flush.lock_requested()
    holder = start_flusher(flusher_env(data_home), code="import time; time.sleep(30)")
    try:
        path.write_text(json.dumps({"pid": holder.pid, "at": time.time()}))
        assert flush.lock_requested()
        path.write_text(json.dumps({"pid": holder.pid, "at": time.time() - flush.REPLAY_REQUEST_TTL - 1}))
        assert not flush.lock_requested()
    finally:
        kill(holder)


def test_rejected_is_not_retryable() -> None:
    assert not BackendRejected("x").retryable and BackendUnavailable("y").retryable


# -- queue.batch_operations ---------------------------------------------------------------------------
def _server_config(fake: Any, **queue_values: Any) -> dict[str, Any]:
    config = config_dict(**queue_values)
    config.update(backend="server", user_id="alice")
    config["mem0"].update(base_url=fake.base_url, infer=True)
    return config


def test_a_store_that_takes_batches_gets_one_add_per_session(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mem0_hooks.backends.server import ServerBackend
    from tests.support.fake_mem0 import FakeServer

    with FakeServer() as fake:
        monkeypatch.setenv("MEM0_API_KEY", fake.default_key)
        ids = enqueue_turns(4, session="s1") + enqueue_turns(2, session="s2")
        config = _server_config(fake)
        backend = ServerBackend(config)
        result = flush.drain(backend, config)
        adds = [r.body for r in fake.requests if r.method == "POST" and r.path == "/memories"]
        assert result.delivered == 6 and queue.depth() == 0
        assert [len(body["messages"]) for body in adds] == [4, 2]
        assert [body["run_id"] for body in adds] == ["s1", "s2"]
        assert adds[0]["metadata"]["mem0_hooks_ids"] == ids[:4]
        assert all(backend.already_stored(i, session_id="s1") for i in ids[:4])  # in doubt, found
        queue.enqueue(make_turns(4, session="s1"))  # captured again: the ledger knows them
        assert flush.drain(backend, config).duplicates == 4


def test_batch_operations_off_sends_one_item_per_request(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mem0_hooks.backends.server import ServerBackend
    from tests.support.fake_mem0 import FakeServer

    with FakeServer() as fake:
        monkeypatch.setenv("MEM0_API_KEY", fake.default_key)
        enqueue_turns(3)
        config = _server_config(fake, batch_operations=False)
        assert flush.drain(ServerBackend(config), config).delivered == 3
        adds = [r.body for r in fake.requests if r.method == "POST" and r.path == "/memories"]
        assert [len(body["messages"]) for body in adds] == [1, 1, 1]
        assert "mem0_hooks_ids" not in adds[0]["metadata"]  # one turn: its own metadata, as ever


def test_a_batch_during_an_outage_waits_whole_and_loses_nothing(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mem0_hooks.backends.server import ServerBackend
    from tests.support.fake_mem0 import FakeServer

    with FakeServer() as fake:
        monkeypatch.setenv("MEM0_API_KEY", fake.default_key)
        ids = enqueue_turns(3)
        config = _server_config(fake)
        fake.provider_down = "provider_unavailable"
        result = flush.drain(ServerBackend(config), config)
        assert result.stopped == "unavailable" and queue.depth() == 3 and result.dead == 0
        fake.provider_down = None
        make_due()
        result = flush.drain(ServerBackend(config), config)
        assert queue.depth() == 0 and result.delivered == 3
        stored = json.dumps(list(fake.memories.values()))
        assert all(i in stored for i in ids)


def test_the_local_store_is_kept_under_its_cap_oldest_first(data_home: Path) -> None:
    enqueue_turns(300, session="old")
    flush.drain(LocalStore(), config_dict())
    store = LocalStore()
    used = store.used_bytes()
    cap_mb = used / 2 / 1e6
    config = config_dict()
    config["memory"]["max_store_size_mb"] = cap_mb
    flush.cap_local(config, store)
    assert store.used_bytes() <= cap_mb * 1e6
    kept = {m.id for m in store.list()}
    assert 0 < len(kept) < 300
    assert "forgot the" in read_log() and "max_store_size_mb" in read_log()
