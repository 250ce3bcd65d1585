"""The durable queue: atomic items, private files, the cap, corrupt items, dead letters, temp files."""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mem0_hooks import paths, queue
from mem0_hooks.errors import QueueError
from tests.support.hooks import run_hook, stop_event
from tests.support.stores import enqueue_turns, make_turns, read_log


def pending_dir() -> Path:
    return Path(paths.queue_dir()) / queue.PENDING


def tmp_dir() -> Path:
    return Path(paths.queue_dir()) / "tmp"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- enqueue --------------------------------------------------------------------------------------
def test_enqueue_writes_one_private_file_per_item_in_arrival_order(data_home: Path) -> None:
    old = os.umask(0o022)  # a careless caller: the queue must still be private
    try:
        ids = enqueue_turns(5)
    finally:
        os.umask(old)
    files = sorted(pending_dir().iterdir())
    assert [f.name.split("-", 1)[1][:-5] for f in files] == ids
    assert queue.names() == [f.name for f in files]
    assert queue.depth() == 5
    for f in files:
        assert mode(f) == 0o600
        record = json.loads(f.read_text())
        assert record["attempts"] == 0 and record["item"]["id"] in ids
    for d in (Path(paths.queue_dir()), pending_dir(), tmp_dir()):
        assert mode(d) == 0o700, d
    assert list(tmp_dir().iterdir()) == []


def test_enqueue_tightens_a_queue_dir_left_too_open(data_home: Path) -> None:
    pending_dir().mkdir(parents=True, mode=0o755)
    os.chmod(pending_dir(), 0o755)
    enqueue_turns(1)
    assert mode(pending_dir()) == 0o700


def test_enqueue_nothing_writes_nothing(data_home: Path) -> None:
    assert queue.enqueue([]) == 0
    assert not Path(paths.queue_dir()).exists()


def test_the_cap_refuses_new_items_and_says_so(data_home: Path) -> None:
    queue.enqueue(make_turns(8), max_items=10)
    with pytest.raises(queue.QueueFull, match=r"queue full: 8 items pending, cap queue.max_items=10"):
        queue.enqueue(make_turns(3, session="s2"), max_items=10)
    assert queue.depth() == 8  # all or nothing: no part of the refused batch was written
    note = queue.full_note()
    assert note is not None and note["refused"] == 3 and note["cap"] == 10
    with pytest.raises(queue.QueueFull):
        queue.enqueue(make_turns(3, session="s3"), max_items=10)
    assert queue.full_note()["refused"] == 6  # type: ignore[index]
    assert queue.enqueue(make_turns(2, session="s4"), max_items=10) == 2  # exactly at the cap is fine
    assert queue.full_note() is None  # an accepted enqueue clears the note
    assert isinstance(queue.QueueFull("x"), QueueError)


def test_the_cap_counts_items_not_other_files(data_home: Path) -> None:
    """The quick count (every name in the directory) only decides whether to count items exactly."""
    queue.enqueue(make_turns(8), max_items=10)
    for n in range(5):
        (pending_dir() / f"stray-{n}.txt").write_text("not an item")
    assert queue.enqueue(make_turns(2, session="s2"), max_items=10) == 2
    with pytest.raises(queue.QueueFull, match="10 items pending"):
        queue.enqueue(make_turns(1, session="s3"), max_items=10)


@pytest.mark.parametrize("sync", [True, False])
def test_a_failed_rename_leaves_no_temp_file_and_no_open_file(
    data_home: Path, monkeypatch: pytest.MonkeyPatch, sync: bool
) -> None:
    """The queue directory wiped under a long-lived process: the item is written again, and the
    first attempt leaves neither a temp file nor a file descriptor behind."""
    real_replace = os.replace
    calls = []

    def replace_once_failing(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory", dst)
        real_replace(src, dst)

    queue.enqueue(make_turns(1), sync=sync)  # the directories exist from here on
    queue.sync_written()
    open_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    monkeypatch.setattr(queue.os, "replace", replace_once_failing)
    assert queue.enqueue(make_turns(1, session="s2"), sync=sync) == 1
    queue.sync_written()
    assert len(calls) == 2 and queue.depth() == 2
    assert list(tmp_dir().iterdir()) == []
    if open_before is not None:
        assert len(os.listdir("/proc/self/fd")) == open_before


def test_a_long_lived_process_sees_what_others_queued_within_a_minute(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Far below the cap, the warm process does not list the queue for every prompt; what other
    processes queued counts again after ``RECOUNT_SECONDS``, or as soon as its own items near the cap."""
    queue.enqueue(make_turns(1), max_items=10)
    for n in range(8):  # other hooks' items
        (pending_dir() / f"{time.time_ns():020d}-other{n}.json").write_text('{"item": {}}')
    assert queue.enqueue(make_turns(1, session="s2"), max_items=10) == 1  # counted a moment ago: 2 of 10
    later = time.monotonic() + queue.RECOUNT_SECONDS + 1
    monkeypatch.setattr(queue.time, "monotonic", lambda: later)
    with pytest.raises(queue.QueueFull, match="10 items pending"):
        queue.enqueue(make_turns(1, session="s3"), max_items=10)


def test_an_item_written_unsynced_is_in_place_at_once_and_flushed_later(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sync=False`` (UserPromptSubmit, to answer sooner): the item is in the queue for every process
    at once; ``sync_written`` flushes it to the device and lets go of its file."""
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(queue.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    assert queue.enqueue(make_turns(2), sync=False) == 2
    assert queue.depth() == 2 and list(tmp_dir().iterdir()) == []
    assert synced == []
    open_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    queue.sync_written()
    assert len(synced) == 3  # both files, then the directory
    if open_before is not None:
        assert len(os.listdir("/proc/self/fd")) == open_before - 2
    queue.sync_written()  # nothing left: nothing done twice
    assert len(synced) == 3


def test_a_short_write_is_completed_not_committed_truncated(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    with monkeypatch.context() as m:
        m.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
        ids = enqueue_turns(2)
    for name in queue.names():
        assert queue.read(name)["item"]["id"] in ids


def test_a_disk_error_mid_item_leaves_no_partial_file(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enqueue_turns(1)  # the directories exist
    real_write = os.write
    calls = {"n": 0}

    def full_disk(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:10]))  # the disk takes a little ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then nothing

    with monkeypatch.context() as m, pytest.raises(QueueError, match="No space left on device"):
        m.setattr(os, "write", full_disk)
        queue.enqueue(make_turns(1, session="other"))
    assert queue.depth() == 1
    assert list(tmp_dir().iterdir()) == []


def test_a_lone_surrogate_does_not_make_an_item_unwritable(data_home: Path) -> None:
    item = make_turns(1)[0]
    item["text"] = "broken emoji \ud83d here"
    queue.enqueue([item])
    (name,) = queue.names()
    assert queue.read(name)["item"]["text"] == "broken emoji ? here"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(codec="utf-8"), min_size=1, max_size=300))
def test_any_text_round_trips(data_home: Path, text: str) -> None:
    item = dict(make_turns(1)[0], text=text)
    before = set(queue.names())
    queue.enqueue([item])
    (name,) = set(queue.names()) - before
    assert queue.read(name)["item"]["text"] == text
    queue.ack(name)


# -- reading --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b'{"item": {"id": "abc", "te', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2, 3]", "no item object"),
        (b'{"item": {"id": "abc", "text": "t"}}', "item.role, item.created_at"),
        (b'{"item": {"id": 5, "text": "t", "role": "user", "created_at": "x"}}', "item.id"),
        (b'{"item": {"id": "a", "text": "t", "role": "user", "created_at": "x"}, "attempts": "3"}', "bad attempts"),
    ],
)
def test_corrupt_items_are_reported_with_a_reason(data_home: Path, content: bytes, reason: str) -> None:
    pending_dir().mkdir(parents=True)
    (pending_dir() / "00000000000000000001-bad.json").write_bytes(content)
    with pytest.raises(queue.CorruptItem, match=reason):
        queue.read("00000000000000000001-bad.json")
    assert [(n, r, e is not None) for n, r, e in queue.iter_pending()] == [
        ("00000000000000000001-bad.json", None, True)
    ]


def test_iter_due_skips_items_waiting_for_their_retry(data_home: Path) -> None:
    enqueue_turns(3)
    first, second, third = queue.names()
    queue.retry_later(second, queue.read(second), "boom", delay=60)
    assert [n for n, _, _ in queue.iter_due()] == [first, third]
    assert [n for n, _, _ in queue.iter_due(now=time.time() + 120)] == [first, second, third]
    assert queue.next_due_at() == 0.0
    queue.ack(first)
    queue.ack(third)
    assert queue.next_due_at() == pytest.approx(time.time() + 60, abs=5)


def test_retry_later_counts_attempts_and_keeps_the_error(data_home: Path) -> None:
    enqueue_turns(1)
    (name,) = queue.names()
    record = queue.retry_later(name, queue.read(name), "HTTP 500", delay=5)
    record = queue.retry_later(name, record, "HTTP 503", delay=5)
    stored = queue.read(name)
    assert stored["attempts"] == 2 and stored["last_error"] == "HTTP 503"
    assert stored["next_attempt_at"] > time.time() + 3
    assert mode(pending_dir() / name) == 0o600


# -- dead letters ---------------------------------------------------------------------------------
def test_dead_letter_keeps_the_reason_and_revive_brings_it_back(data_home: Path) -> None:
    ids = enqueue_turns(2)
    first, second = queue.names()
    record = queue.retry_later(first, queue.read(first), "HTTP 400", delay=5)
    queue.dead_letter(first, record, "rejected by the server store: HTTP 400")
    assert queue.names() == [second]
    (dead,) = queue.dead_items()
    assert dead["name"] == first and dead["dead_reason"] == "rejected by the server store: HTTP 400"
    assert dead["item"]["id"] == ids[0] and dead["attempts"] == 1
    assert mode(Path(queue.dead_dir()) / first) == 0o600 and mode(Path(queue.dead_dir())) == 0o700
    assert queue.revive_dead() == (1, 0)
    assert queue.names() == [first, second]  # back in its place in arrival order
    revived = queue.read(first)
    assert revived["attempts"] == 0 and "next_attempt_at" not in revived and "dead_reason" not in revived
    assert queue.depth(queue.DEAD) == 0


def test_a_corrupt_item_is_dead_lettered_with_its_raw_bytes_and_stays_dead(data_home: Path) -> None:
    pending_dir().mkdir(parents=True)
    (pending_dir() / "00000000000000000001-x.json").write_bytes(b'{"item": {"id": "x", "tex')
    queue.dead_letter("00000000000000000001-x.json", None, "corrupt queue item: not valid JSON")
    (dead,) = queue.dead_items()
    assert dead["raw"] == '{"item": {"id": "x", "tex'
    assert dead["dead_reason"] == "corrupt queue item: not valid JSON"
    assert queue.revive_dead() == (0, 1)
    assert queue.depth() == 0 and queue.depth(queue.DEAD) == 1


def test_dead_items_survives_an_unreadable_dead_file(data_home: Path) -> None:
    Path(queue.dead_dir()).mkdir(parents=True)
    (Path(queue.dead_dir()) / "00000000000000000001-y.json").write_text("nope")
    assert queue.dead_items() == [{"dead_reason": "unreadable dead-letter file", "name": "00000000000000000001-y.json"}]


# -- housekeeping ---------------------------------------------------------------------------------
def test_clean_temp_removes_what_crashed_writers_left(data_home: Path) -> None:
    enqueue_turns(1)
    dead_pid = 2**22 + 12345  # above pid_max on most systems: no such process
    crashed = tmp_dir() / f"00000000000000000001-a.json.{dead_pid}.123"
    live = tmp_dir() / f"00000000000000000002-b.json.{os.getpid()}.456"
    ancient = tmp_dir() / f"00000000000000000003-c.json.{os.getpid()}.789"
    for f in (crashed, live, ancient):
        f.write_text('{"item": ')
    old = time.time() - 60
    os.utime(crashed, (old, old))
    os.utime(live, (old, old))
    very_old = time.time() - queue.TMP_MAX_AGE - 10
    os.utime(ancient, (very_old, very_old))
    fresh_crash = tmp_dir() / f"00000000000000000004-d.json.{dead_pid}.1"
    fresh_crash.write_text("{")  # too young to judge: its writer may be slow, not dead
    assert queue.clean_temp() == 2
    assert sorted(p.name for p in tmp_dir().iterdir()) == sorted([live.name, fresh_crash.name])
    assert queue.depth() == 1


def test_expire_drops_items_older_than_the_cutoff(data_home: Path) -> None:
    enqueue_turns(3)
    cutoff = time.time() + 1
    enqueue_turns(1, session="later")  # names carry the enqueue time; make the last one "newer"
    newest = queue.names()[-1]
    os.rename(pending_dir() / newest, pending_dir() / f"{int((cutoff + 10) * 1e9):020d}-late.json")
    assert queue.expire(cutoff) == 3
    assert queue.depth() == 1


# -- the cap as a hook meets it --------------------------------------------------------------------
def test_a_stop_hook_at_the_cap_exits_quietly_and_logs_it(
    data_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from filelock import FileLock

    from mem0_hooks.cli.main import main

    config = data_home / "config.yaml"
    config.write_text(config.read_text() + "queue:\n  max_items: 10\n")
    queue.enqueue(make_turns(10))
    # As if a flusher were busy (its lock held): the one the hook starts steps aside, so the queue is still
    # at its cap when status looks (it drained the 10 first now and then on a loaded machine)
    with FileLock(queue.lock_path()):
        proc = run_hook("Stop", stop_event("cap-session", tmp_path, "one reply too many", tmp_path / "none.jsonl"))
        assert proc.returncode == 0 and proc.stdout == b""
        assert queue.depth() == 10
        assert "queue full: 10 items pending, cap queue.max_items=10" in read_log()
        assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "10 pending (cap 10)" in out
    assert "queue full    cap queue.max_items=10 reached: 1 new item(s) refused" in out
