"""Fault injection: the queue never loses or doubles a memory.

Each test prints one ``FAULTS <name>: enqueued=… delivered=… duplicated=0 lost=0 dead=…`` line (to the
real stdout, so it shows without ``-s``; with ``MEM0_HOOKS_FAULT_REPORT=<file>`` also as JSON lines).
Random choices come from one seed, printed too: ``MEM0_HOOKS_FAULT_SEED=<n>`` replays a run.

    pytest -m slow tests/test_faults.py

What "full disk" and "read-only" mean here: a real tmpfs (a few hundred KiB) or a read-only bind
mount over the data dir, made inside a private mount namespace (``unshare -m``, needs root: skipped
otherwise) so nothing leaks to the host; and, without root, ``RLIMIT_FSIZE``, which makes the kernel
cut a write short and then fail it with EFBIG, exactly as a disk that fills up mid-write does.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mem0_hooks import flush, paths, queue
from mem0_hooks.cli.main import main
from tests.support.fake_mem0 import FakeServer
from tests.support.hooks import HOOKS_DIR, run_hook
from tests.support.stores import (
    REPO_ROOT,
    duplicates,
    flusher_env,
    kill,
    local_rows,
    make_turns,
    print_counts,
    start_flusher,
    wait_for,
    wait_no_flusher,
    write_config,
)

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("MEM0_HOOKS_FAULT_SEED") or time.time_ns() % 1_000_000)
API_KEY = "m0sk_test_key"


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Any:
    """``report(name, **counts)``: print the counts line past pytest's capture, so it shows in any run."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def emit(name: str, **counts: Any) -> None:
        if capture is None:
            print_counts(name, **counts)
            return
        with capture.global_and_fixture_disabled():
            print_counts(name, **counts)

    return emit


@pytest.fixture
def rng(report: Any) -> random.Random:
    report("seed", seed=SEED, replay_with=f"MEM0_HOOKS_FAULT_SEED={SEED}")
    return random.Random(SEED)


def _transcript_line(kind: str, text: str, n: int, session: str) -> str:
    message: dict[str, Any] = {"role": kind, "content": text}
    if kind == "assistant":
        message = {"id": f"msg_{session}_{n}", "role": "assistant", "content": [{"type": "text", "text": text}]}
    return (
        json.dumps(
            {
                "type": kind,
                "message": message,
                "timestamp": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
                "sessionId": session,
            }
        )
        + "\n"
    )


# -- 1. many sessions, many Stop hooks, at once --------------------------------------------------------
SESSIONS = 8
STOPS = 200


def test_concurrent_stop_hooks_lose_and_double_nothing(data_home: Path, tmp_path: Path, report: Any) -> None:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    expected: set[tuple[str, str, str]] = set()
    failures: list[str] = []
    lock = threading.Lock()

    def one_session(s: int) -> None:
        session = f"session-{s}"
        transcript = tmp_path / f"transcript-{s}.jsonl"
        transcript.touch()
        for n in range(STOPS):
            prompt = f"question {n} in {session}: what does step {n * 13 + s} of the plan need?"
            reply = f"reply {n} in {session}: step {n * 13 + s} needs the queue drained first"
            with transcript.open("a") as fh:
                fh.write(_transcript_line("user", prompt, n, session))
                fh.write(_transcript_line("assistant", reply, n, session))
            with lock:
                expected.update({(session, "user", prompt), (session, "assistant", reply)})
            proc = run_hook(
                "Stop",
                {
                    "session_id": session,
                    "transcript_path": str(transcript),
                    "cwd": str(project),
                    "hook_event_name": "Stop",
                    "stop_hook_active": False,
                    "last_assistant_message": reply,
                },
                timeout=60,
            )
            if proc.returncode != 0 or proc.stdout:
                failures.append(f"{session} stop {n}: exit {proc.returncode}, stdout {proc.stdout[:200]!r}")

    started = time.monotonic()
    with ThreadPoolExecutor(SESSIONS) as pool:
        list(pool.map(one_session, range(SESSIONS)))
    hooks_took = time.monotonic() - started
    assert failures == []
    # The flushers the hooks started drain everything on their own: nothing is left stranded.
    try:
        wait_for(lambda: queue.depth() == 0, timeout=120, what="the background flushers to drain the queue")
    finally:
        stranded = queue.depth()
        wait_no_flusher()
    assert main(["replay"]) == 0
    rows = local_rows()
    found = Counter((session, role, text) for _id, session, role, text in rows)
    lost = expected - set(found)
    extra = set(found) - expected
    doubled = sum(n - 1 for n in found.values())
    report(
        "concurrent-stop-hooks",
        sessions=SESSIONS,
        stops_each=STOPS,
        enqueued=len(expected),
        delivered=len(rows),
        duplicated=doubled,
        lost=len(lost),
        unexpected=len(extra),
        dead=queue.depth(queue.DEAD),
        stranded=stranded,
        hooks_seconds=round(hooks_took, 1),
    )
    assert (doubled, len(lost), len(extra)) == (0, 0, 0)
    assert len(rows) == SESSIONS * STOPS * 2
    assert queue.depth() == 0 and queue.depth(queue.DEAD) == 0
    assert "ERROR" not in Path(paths.log_file()).read_text()


# -- 2. the flusher killed at random points ------------------------------------------------------------
KILLS = 20


def _kill_repeatedly(
    env: dict[str, str], rng: random.Random, delivered: Any, most: float, code: str | None = None
) -> tuple[int, int]:
    """KILLS times: start the flusher, wait until it has delivered something, let it run a random
    while longer (up to ``most`` seconds), SIGKILL it. Returns (kills that landed, kills mid-drain)."""
    landed = mid_drain = 0
    for _ in range(KILLS):
        if queue.depth() == 0:
            break
        before = delivered()
        proc = start_flusher(env, code=code)

        def started(proc: Any = proc, before: int = before) -> bool:
            return delivered() > before or proc.poll() is not None

        wait_for(started, timeout=60, what="the flusher to start delivering")
        time.sleep(rng.uniform(0, most))  # the random point is the test's purpose, not a wait
        if kill(proc):
            landed += 1
            if queue.depth() > 0:
                mid_drain += 1
    return landed, mid_drain


def _finish(env: dict[str, str]) -> None:
    proc = start_flusher(env)
    try:
        assert proc.wait(180) == 0
    finally:
        kill(proc)


def test_flusher_killed_while_draining_into_the_local_store(
    data_home: Path, rng: random.Random, report: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = 20_000
    items = [item for s in range(100) for item in make_turns(total // 100, session=f"kill-{s}")]
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", lambda fd: None)  # setting up, not under test: 20k fsyncs would take minutes
        queue.enqueue(items)
    env = flusher_env(data_home)
    landed, mid_drain = _kill_repeatedly(env, rng, lambda: total - queue.depth(), 0.1)
    _finish(env)
    ids = Counter(row[0] for row in local_rows())
    texts = Counter(row[3] for row in local_rows())
    lost = {item["id"] for item in items} - set(ids)
    report(
        "sigkill-local",
        enqueued=len(items),
        delivered=len(ids),
        duplicated=duplicates(texts.elements()),
        lost=len(lost),
        dead=queue.depth(queue.DEAD),
        kills=landed,
        kills_mid_drain=mid_drain,
    )
    assert len(lost) == 0 and duplicates(texts.elements()) == 0 and len(ids) == len(items)
    assert queue.depth() == 0 and queue.depth(queue.DEAD) == 0
    assert landed == mid_drain == KILLS
    queue.clean_temp(now=time.time() + queue.TMP_MIN_AGE + 1)
    assert list((Path(paths.queue_dir()) / "tmp").iterdir()) == []


def _server_config(home: Path, fake: FakeServer, **queue_cfg: Any) -> dict[str, str]:
    write_config(
        home,
        backend="server",
        mem0={"base_url": fake.base_url, "infer": False},
        queue=queue_cfg or {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.5},
    )
    return flusher_env(home, MEM0_API_KEY=API_KEY)


def _server_counts(fake: FakeServer) -> Counter[str]:
    with fake._lock:
        return Counter(str(m["metadata"].get("mem0_hooks_id")) for m in fake.memories.values())


_CRASH_AFTER_STORE = """
import os, signal, sys
sys.path.insert(0, {root!r})
from mem0_hooks import flush

real_open = flush.open_targets
def open_targets(config):
    backend, mirror = real_open(config)
    real_add, done = backend.add, []
    def add(items):
        real_add(items)  # the server answered 200 and stored it ...
        done.append(1)
        if len(done) == {nth}:
            os.kill(os.getpid(), signal.SIGKILL)  # ... and the flusher dies before the ledger says so
    backend.add = add
    return backend, mirror
flush.open_targets = open_targets
flush.main()
"""


def test_flusher_killed_while_draining_into_a_slow_remote(data_home: Path, rng: random.Random, report: Any) -> None:
    fake = FakeServer(api_keys=(API_KEY,))
    with fake:
        fake.delay(0.01)  # every request takes at least 10 ms: kills land mid-request too
        env = _server_config(data_home, fake)
        items = [item for s in range(3) for item in make_turns(200, session=f"remote-{s}")]
        queue.enqueue(items)
        landed, mid_drain = _kill_repeatedly(env, rng, lambda: len(_server_counts(fake)), 0.3)
        # The one window random kills rarely hit: after the server's 200, before the ledger write.
        in_doubt = 0
        for _ in range(5):
            if queue.depth() == 0:
                break
            code = _CRASH_AFTER_STORE.format(root=str(REPO_ROOT), nth=rng.randint(1, 4))
            proc = start_flusher(env, code=code)
            proc.wait(60)
            kill(proc)
            in_doubt += 1
        _finish(env)
        counts = _server_counts(fake)
        requests = len(fake.requests)
    ids = {item["id"] for item in items}
    lost = ids - set(counts)
    doubled = sum(n - 1 for n in counts.values())
    report(
        "sigkill-remote",
        enqueued=len(items),
        delivered=len(counts),
        duplicated=doubled,
        lost=len(lost),
        dead=queue.depth(queue.DEAD),
        kills=landed,
        kills_mid_drain=mid_drain,
        kills_after_200_before_ledger=in_doubt,
        requests=requests,
    )
    assert (doubled, len(lost)) == (0, 0) and set(counts) == ids
    assert queue.depth() == 0 and queue.depth(queue.DEAD) == 0
    assert landed == mid_drain == KILLS and in_doubt >= 3


# -- 3. a store that is down, then failing, then rate-limiting, then fine --------------------------------
class TimedServer(FakeServer):
    """FakeServer that also notes when each request arrived (same order as ``requests``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, str, str]] = []

    def _serve(self, handler: Any) -> None:
        with self._lock:
            self.arrivals.append((time.monotonic(), handler.command, handler.path))
        super()._serve(handler)


def test_outage_then_errors_then_rate_limit_then_recovery(data_home: Path, report: Any) -> None:
    items = make_turns(20, session="outage")
    queue.enqueue(items)
    fake = TimedServer(api_keys=(API_KEY,))
    with fake:
        fake.down()
        env = _server_config(data_home, fake, backoff_base_seconds=0.2, backoff_max_seconds=1.0)
        proc = start_flusher(env)
        try:
            # Down: connections refused. The flusher backs off; nothing is dead-lettered, nothing lost.
            wait_for(
                lambda: int(flush.read_status().get("store_failures") or 0) >= 4,
                timeout=60,
                what="the flusher to fail against the down store",
            )
            assert queue.depth() == 20 and queue.depth(queue.DEAD) == 0
            assert proc.poll() is None  # still alive, waiting out its backoff
            fake.fail_with(500, {"detail": "internal error"}, times=3)
            fake.fail_with(429, {"detail": "Too many requests"}, headers={"Retry-After": "2"}, times=1)
            fake.up()
            wait_for(lambda: len(_server_counts(fake)) == 20, timeout=60, what="every item to arrive")
            assert proc.wait(30) == 0  # the queue is empty: the flusher does not outlive its work
        finally:
            kill(proc)
        counts = _server_counts(fake)
        arrivals = list(fake.arrivals)
    times = [t for t, _method, _path in arrivals]
    after_500 = [times[i + 1] - times[i] for i in range(2)]  # the 500s were the first three requests
    after_429 = times[4] - times[3]
    doubled = sum(n - 1 for n in counts.values())
    lost = {item["id"] for item in items} - set(counts)
    report(
        "outage-500-429-recovery",
        enqueued=len(items),
        delivered=len(counts),
        duplicated=doubled,
        lost=len(lost),
        dead=queue.depth(queue.DEAD),
        gaps_after_500=[round(g, 2) for g in after_500],
        gap_after_429_retry_after_2=round(after_429, 2),
        requests=len(arrivals),
    )
    assert (doubled, len(lost)) == (0, 0) and queue.depth(queue.DEAD) == 0
    assert after_429 >= 2.0 - 0.05  # Retry-After honoured
    assert all(gap >= 0.5 - 0.05 for gap in after_500)  # the store's backoff (>= half of its 1 s ceiling by now)


# -- 4. corrupt and truncated items ------------------------------------------------------------------------
def test_corrupt_and_truncated_items_are_dead_lettered_and_the_rest_drain(data_home: Path, report: Any) -> None:
    items = make_turns(50, session="corrupt")
    queue.enqueue(items)
    pending = Path(paths.queue_dir()) / queue.PENDING
    victim = sorted(pending.iterdir())[10]
    whole = victim.read_bytes()
    bad = {
        "00000000000000000001-truncated.json": whole[: len(whole) // 2],
        "00000000000000000002-empty.json": b"",
        "00000000000000000003-binary.json": os.urandom(64).replace(b"{", b"("),
        "00000000000000000004-wrong-shape.json": json.dumps({"item": {"id": "x", "text": "no role"}}).encode(),
        "99999999999999999999-cut-at-a-brace.json": whole[: whole.index(b'"text"')],
    }
    for name, content in bad.items():
        (pending / name).write_bytes(content)
    crashed_writer = Path(paths.queue_dir()) / "tmp" / f"{victim.name}.{2**22 + 7}.12345"
    crashed_writer.write_bytes(whole[:20])
    os.utime(crashed_writer, (time.time() - 60, time.time() - 60))
    env = flusher_env(data_home)
    _finish(env)
    rows = local_rows()
    dead = queue.dead_items()
    reasons = {d["name"]: d["dead_reason"] for d in dead}
    report(
        "corrupt-items",
        enqueued=len(items),
        corrupt=len(bad),
        delivered=len(rows),
        duplicated=duplicates(r[0] for r in rows),
        lost=len({i["id"] for i in items} - {r[0] for r in rows}),
        dead=len(dead),
        temp_files_left=len(list(crashed_writer.parent.iterdir())),
    )
    assert {r[0] for r in rows} == {i["id"] for i in items} and len(rows) == len(items)
    assert set(reasons) == set(bad)
    assert all(reason.startswith("corrupt queue item: ") for reason in reasons.values())
    assert "empty file" in reasons["00000000000000000002-empty.json"]
    assert "missing or not text: item.role, item.created_at" in reasons["00000000000000000004-wrong-shape.json"]
    assert not crashed_writer.exists()
    assert queue.depth() == 0


# -- 5. the data dir read-only or full ---------------------------------------------------------------------
def _can_use_mount_namespaces() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


_DRIVER = r"""
import json, os, subprocess, sys
home, mode, hooks_dir = sys.argv[1:4]
cases = json.loads(sys.stdin.read())

def run(*argv):
    subprocess.run(argv, check=True, capture_output=True)

if mode == "read-only":
    run("mount", "--bind", home, home)
    run("mount", "-o", "remount,bind,ro", home)
else:
    saved = {name: open(os.path.join(home, name), "rb").read() for name in ("config.yaml",)}
    run("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", home)
    for name, data in saved.items():
        with open(os.path.join(home, name), "wb") as fh:
            fh.write(data)
    # Everything a hook makes on a first run, made now, so the disk is full exactly where the queue writes.
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); from mem0_hooks import config, queue; "
                    "config.load(); queue.ensure_dirs('pending', 'tmp')" % os.path.dirname(hooks_dir)], check=True)
    with open(os.path.join(home, "filler"), "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
        if mode == "nearly-full":  # leave two pages: an item gets half written, then ENOSPC
            os.ftruncate(fh.fileno(), max(fh.tell() - 2 * 4096, 0))
results = []
for event, hook, payload in cases:
    proc = subprocess.run([sys.executable, os.path.join(hooks_dir, hook)], input=json.dumps(payload).encode(),
                          capture_output=True, timeout=60)
    results.append({"event": event, "rc": proc.returncode, "stdout": proc.stdout.decode("replace")})
queue_dir = os.path.join(home, "queue")
files = {}
for sub in ("pending", "tmp"):
    path = os.path.join(queue_dir, sub)
    files[sub] = sorted(os.listdir(path)) if os.path.isdir(path) else []
valid = []
for name in files["pending"]:
    try:
        json.load(open(os.path.join(queue_dir, "pending", name)))
        valid.append(True)
    except ValueError:
        valid.append(False)
print(json.dumps({"results": results, "files": files, "valid": valid}))
"""


def _hook_cases(tmp_path: Path, tag: str, size: int = 200) -> list[list[Any]]:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True, exist_ok=True)
    transcript = tmp_path / f"{tag}.jsonl"
    long_reply = f"{tag} reply: " + " ".join(f"word{n}" for n in range(size))
    transcript.write_text(
        _transcript_line("user", f"{tag} question about the disk", 1, tag)
        + _transcript_line("assistant", long_reply, 2, tag)
    )
    base = {"session_id": f"session-{tag}", "transcript_path": str(transcript), "cwd": str(project)}
    return [
        [
            "Stop",
            "stop.py",
            {**base, "hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": long_reply},
        ],
        [
            "UserPromptSubmit",
            "user_prompt_submit.py",
            {**base, "hook_event_name": "UserPromptSubmit", "prompt": f"{tag} next question about the disk"},
        ],
    ]


def _captured_after_recovery(cases: list[list[Any]]) -> set[str]:
    """Run the same Stop again on a healthy disk and drain: what the store then has of this session."""
    proc = run_hook("Stop", cases[0][2])
    assert proc.returncode == 0 and proc.stdout == b""
    wait_no_flusher()
    main(["replay"])
    return {text for _id, session, _role, text in local_rows() if session == cases[0][2]["session_id"]}


@pytest.mark.parametrize("mode", ["read-only", "full", "nearly-full"])
def test_hooks_on_a_read_only_or_full_data_dir_exit_0_silently(
    data_home: Path, tmp_path: Path, mode: str, report: Any
) -> None:
    if not _can_use_mount_namespaces():
        pytest.skip("needs root and unshare -m for a private tmpfs / read-only bind mount")
    cases = _hook_cases(tmp_path, mode.replace("-", ""), size=3000 if mode == "nearly-full" else 200)
    env = flusher_env(data_home)
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            sys.executable,
            "-c",
            _DRIVER,
            str(data_home),
            mode,
            str(HOOKS_DIR),
        ],
        input=json.dumps(cases).encode(),
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    seen = json.loads(proc.stdout)
    report(
        f"data-dir-{mode}",
        hooks=[(r["event"], r["rc"], len(r["stdout"])) for r in seen["results"]],
        pending_files=len(seen["files"]["pending"]),
        temp_files=len(seen["files"]["tmp"]),
        all_pending_valid=all(seen["valid"]),
    )
    assert all(r["rc"] == 0 and r["stdout"] == "" for r in seen["results"])
    assert seen["files"]["tmp"] == [] and all(seen["valid"])
    assert queue.depth() == 0  # outside the namespace nothing was written
    captured = _captured_after_recovery(cases)
    assert len(captured) == 2, captured  # the turns were not lost: the next Stop captured them


def test_hooks_when_writes_are_cut_short_by_rlimit_fsize(data_home: Path, tmp_path: Path, report: Any) -> None:
    stop = _hook_cases(tmp_path, "rlimit", size=3000)[0]
    run_hook("UserPromptSubmit", {**stop[2], "hook_event_name": "UserPromptSubmit", "prompt": "warm the cache"})
    wait_no_flusher()
    main(["replay"])  # the config cache, session file and queue dirs exist: only the new item is big
    limit = 8192  # bytes per file: the ~30 KB item is written short, then fails with EFBIG

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, str(HOOKS_DIR / stop[1])],
        input=json.dumps(stop[2]).encode(),
        capture_output=True,
        # The limit is on this process: its own writes must be cut short, not the warm process's.
        env=dict(flusher_env(data_home), MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS="false"),
        preexec_fn=small_files,
        timeout=60,
    )
    bad = []
    for name in queue.names():
        try:
            queue.read(name)
        except queue.CorruptItem:
            bad.append(name)
    temp = list((Path(paths.queue_dir()) / "tmp").iterdir())
    report(
        "data-dir-rlimit-fsize",
        hook_exit=proc.returncode,
        stdout_bytes=len(proc.stdout),
        pending=queue.depth(),
        truncated_items=len(bad),
        temp_files=len(temp),
    )
    assert proc.returncode == 0 and proc.stdout == b""
    assert bad == [] and temp == []
    wait_no_flusher()
    main(["replay"])
    assert not any(len(text) > 20_000 for *_rest, text in local_rows())  # the big reply did not get in ...
    captured = _captured_after_recovery([stop])
    assert any(len(text) > 20_000 for text in captured)  # ... until the disk allowed it, then it did
