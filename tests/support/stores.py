"""Test helpers for the queue and the flusher: config files, items, stores to count, flusher processes.

    write_config(home, queue={"backoff_base_seconds": 0.05})        # consent given, local store
    write_config(home, backend="server", mem0={"base_url": fake.base_url})
    ids = enqueue_turns(200, session="s1")                            # real items through capture
    proc = start_flusher(env)                                         # the detached flusher, as a child
    local_rows()                                                      # [(id, session, role, text)]

``InProcessStore`` is a Backend stand-in for unit tests: it counts every add per id and can be told
to fail (``fail_next``, ``fail_always``, ``poison``) or to "crash" right after the store took an item
(``crash_after_add``), which is how a kill between the store's confirmation and the ledger write is
simulated without a process boundary.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mem0_hooks import capture, paths
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.errors import BackendError

REPO_ROOT = Path(__file__).resolve().parents[2]
FLUSHER_CODE = "import sys; sys.path.insert(0, {root!r}); from mem0_hooks.flush import main; main()"


def write_config(home: Path | str, *, backend: str = "local", **sections: Mapping[str, Any]) -> Path:
    """Write ``config.yaml`` with consent given; ``sections`` (``queue=``, ``mem0=``, ...) are merged in."""
    data: dict[str, Any] = {
        "backend": backend,
        "user_id": "tester",
        "privacy": {"require_consent": True, "consent_given": True},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    home = Path(home)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def config_dict(**queue: Any) -> dict[str, Any]:
    """A validated default config dict (local store, consent) with ``queue`` overrides, no file needed."""
    from mem0_hooks.config_model import Config

    config = Config.model_validate({}).model_dump()
    config["user_id"] = "tester"
    config["privacy"]["consent_given"] = True
    config["queue"].update(queue)
    return config


def make_turns(
    count: int, *, session: str = "s1", project: str = "/proj", role: str = "user", words: str = "turn"
) -> list[dict[str, Any]]:
    """``count`` distinct queue items of one session, made the way capture makes them."""
    config = config_dict()
    items = []
    for n in range(count):
        item = capture.make_item(
            text=f"{words} {n} of session {session} about the queue",
            role=role,
            session_id=session,
            project=project,
            seq=n + 1,
            config=config,
        )
        assert item is not None
        items.append(item)
    return items


def enqueue_turns(count: int, **kwargs: Any) -> list[str]:
    """Enqueue ``make_turns(count, ...)``; returns their ids in order."""
    from mem0_hooks import queue

    items = make_turns(count, **kwargs)
    queue.enqueue(items)
    return [item["id"] for item in items]


def local_rows(path: str | None = None) -> list[tuple[str, str, str, str]]:
    """Every row of the local store as ``(id, session_id, role, text)`` (opened read-only, no migration)."""
    path = path or paths.store_db()
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in db.execute("SELECT id, session_id, role, text FROM memories")]  # type: ignore[misc]
    finally:
        db.close()


def duplicates(values: Iterable[Any]) -> int:
    """How many values occur more than once, counted as extra copies."""
    return sum(n - 1 for n in Counter(values).values() if n > 1)


def flusher_env(home: Path | str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "XDG_", "CLAUDE_PLUGIN_"))}
    env["MEM0_HOOKS_HOME"] = str(home)
    env.update(extra)
    return env


def start_flusher(env: Mapping[str, str], *, code: str | None = None) -> subprocess.Popen[bytes]:
    """Start the flusher (or ``code``) as a child process with the hooks' environment."""
    return subprocess.Popen(
        [sys.executable, "-c", code or FLUSHER_CODE.format(root=str(REPO_ROOT))],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(REPO_ROOT),
    )


def kill(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL ``proc``; True when it was still running (the kill landed), False when it had exited."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return alive


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.02, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_no_flusher(timeout: float = 60.0, *, quiet: float = 1.0) -> None:
    """Wait until no flusher has held the lock for ``quiet`` seconds in a row.

    One free moment is not enough: a hook that just spawned a flusher leaves the lock free for the
    tenth of a second the new process needs to start.
    """
    from mem0_hooks import flush

    free_since: list[float] = []

    def settled() -> bool:
        if flush.flusher_running():
            free_since.clear()
            return False
        if not free_since:
            free_since.append(time.monotonic())
        return time.monotonic() - free_since[0] >= quiet

    wait_for(settled, timeout=timeout, what="background flushers to exit")


def read_log() -> str:
    try:
        return Path(paths.log_file()).read_text()
    except OSError:
        return ""


def print_counts(name: str, **counts: Any) -> str:
    """One ``FAULTS name: key=value ...`` line for the issue note; also returned for assertions."""
    line = f"FAULTS {name}: " + " ".join(f"{k}={v}" for k, v in counts.items())
    out = sys.__stdout__ or sys.stdout
    out.write(line + "\n")
    out.flush()
    results = os.environ.get("MEM0_HOOKS_FAULT_REPORT")
    if results:
        with open(results, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": name, **counts}) + "\n")
    return line


class StoreCrash(BaseException):
    """Stands for the flusher being killed: not an Exception, so nothing in the flusher catches it."""


class InProcessStore:
    """A remote-store stand-in: ``adds[id]`` counts every delivery; switches make it fail."""

    def __init__(self, name: str = "server", *, with_already_stored: bool = True) -> None:
        self.name = name
        self.base_url = f"http://{name}.test"
        self.user_id = "tester"
        self.adds: Counter[str] = Counter()
        self.stored: dict[str, MemoryItem] = {}
        self.calls = 0
        self.checks: list[str] = []
        self.fail_next: list[BaseException] = []  # raised by the next adds, in order
        self.fail_always: BaseException | None = None
        self.poison: dict[str, BaseException] = {}  # item id -> raised whenever that item is added
        self.crash_after_add: set[str] = set()  # ids: store it, then raise StoreCrash
        self.check_error: BaseException | None = None
        if not with_already_stored:
            self.already_stored = None  # type: ignore[assignment]

    def add(self, items: list[MemoryItem]) -> None:
        self.calls += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        if self.fail_always is not None:
            raise self.fail_always
        for item in items:
            if item.id in self.poison:
                raise self.poison[item.id]
        for item in items:
            self.adds[item.id] += 1
            self.stored[item.id] = item
            if item.id in self.crash_after_add:
                self.crash_after_add.discard(item.id)
                raise StoreCrash(item.id)

    def already_stored(self, item_id: str, *, session_id: str | None = None) -> bool:
        self.checks.append(item_id)
        if self.check_error is not None:
            raise self.check_error
        return item_id in self.stored

    def close(self) -> None:
        pass


def unavailable(status: int | None = None, retry_after: float | None = None) -> BackendError:
    from mem0_hooks.errors import BackendUnavailable

    return BackendUnavailable("store unavailable (test)", status=status, retry_after=retry_after)


def rejected(status: int = 400) -> BackendError:
    from mem0_hooks.errors import BackendRejected

    return BackendRejected("store rejected the item (test)", status=status, server_message="bad input")
