"""``mem0-hooks migrate --to BACKEND``: the local store's memories into a remote store, exactly once.

Each remote store is a real HTTP server on 127.0.0.1 answering as the deployment does
(``tests/support/fake_mem0.py``); the migration runs as the CLI runs it. What must hold: every local
memory reaches the store once, also across a stop (store down) or a kill at any point followed by a
rerun; the hooks' own queue (still delivering to the local store) is never touched; the command says
what to switch in the config.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mem0_hooks import migrate, queue
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.local import LocalStore
from mem0_hooks.cli.main import main
from mem0_hooks.errors import BackendUnavailable
from tests.support.fake_mem0 import FakeMem0, FakeOpenMemory, FakePlatform, FakeServer
from tests.support.stores import REPO_ROOT, enqueue_turns, local_rows, wait_for, write_config

MEMORIES = 40


@pytest.fixture(params=["platform", "openmemory", "server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeMem0]:
    cls = {"platform": FakePlatform, "openmemory": FakeOpenMemory, "server": FakeServer}[request.param]
    with cls() as server:
        yield server


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


def configure(home: Path, fake: FakeMem0, monkeypatch: pytest.MonkeyPatch, *, backend: str = "local") -> None:
    """The config before the switch: the local store, and the remote store set up in the mem0 section."""
    write_config(home, backend=backend, mem0={"base_url": fake.base_url, "infer": False})
    path = home / "config.yaml"
    path.write_text(path.read_text().replace("user_id: tester", "user_id: alice"))
    if fake.default_key:
        monkeypatch.setenv("MEM0_API_KEY", fake.default_key)


def fill_local_store(count: int = MEMORIES) -> list[str]:
    store = LocalStore()
    items = [
        MemoryItem(
            id=f"turn-{n:04d}",
            text=f"Turn {n}: the deploy script pushes the image to registry {n % 7}",
            role="user" if n % 2 else "assistant",
            created_at=f"2026-10-{n % 28 + 1:02d}T10:00:00Z",
            session_id=f"s-{n // 10}",
            project="/work/deploy",
            seq=n % 10 + 1,
        )
        for n in range(count)
    ]
    store.add(items)
    store.close()
    return [item.id for item in items]


def sent_ids(fake: FakeMem0) -> Counter[str]:
    """How often each of our ids was POSTed to the store."""
    counts: Counter[str] = Counter()
    for request in fake.requests:
        body = request.body if isinstance(request.body, dict) else {}
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        if request.method == "POST" and metadata.get("mem0_hooks_id"):
            counts[metadata["mem0_hooks_id"]] += 1
    return counts


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_migrate_moves_every_memory_once_then_says_what_to_switch(
    data_home: Path, fake: FakeMem0, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_home, fake, monkeypatch)
    ids = fill_local_store()
    code, out, err = run(capsys, "migrate", "--to", fake.service)
    assert code == 0, err
    assert out.startswith(
        f"moved {MEMORIES} of {MEMORIES} local memories to the {fake.service} store at {fake.base_url}"
    )
    assert f"mem0-hooks config set backend {fake.service}" in out
    assert sent_ids(fake) == Counter({i: 1 for i in ids})
    assert len(local_rows()) == MEMORIES  # the local store is kept

    code, out, _ = run(capsys, "migrate", "--to", fake.service)  # again: nothing new to send
    assert code == 0 and out.startswith(f"moved 0 of {MEMORIES} local memories") and f"{MEMORIES} were there" in out
    assert sent_ids(fake) == Counter({i: 1 for i in ids})


def test_memories_captured_later_are_moved_by_the_next_run_and_the_hooks_queue_is_left_alone(
    data_home: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_home, server, monkeypatch)
    ids = fill_local_store(10)
    waiting = enqueue_turns(5, session="s-hooks")  # the hooks' queue: for the configured (local) store
    assert run(capsys, "migrate", "--to", "server")[0] == 0
    assert set(sent_ids(server)) == set(ids)
    assert queue.depth() == 5  # not delivered to the remote store, not dropped

    assert main(["replay"]) == 0  # the hooks' flusher puts them in the local store, as configured
    code, out, _ = run(capsys, "migrate", "--to", "server")
    assert code == 0 and out.startswith("moved 5 of 15 local memories")
    assert sent_ids(server) == Counter({i: 1 for i in ids + waiting})

    configure(data_home, server, monkeypatch, backend="server")  # switched: nothing left to switch
    code, out, _ = run(capsys, "migrate", "--to", "server")
    assert code == 0 and "the config already uses the server store: nothing to switch" in out


def test_a_store_that_is_not_ready_moves_nothing(
    data_home: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_home, server, monkeypatch)
    fill_local_store(5)
    server.down()
    code, out, err = run(capsys, "migrate", "--to", "server")
    assert code == 1 and out == ""
    assert err.startswith("error: the server store is not ready, nothing was moved:")
    monkeypatch.setenv("MEM0_API_KEY", "m0sk_wrong")
    server.up()
    code, _, err = run(capsys, "migrate", "--to", "server")
    assert code == 1 and "not ready" in err and "401" in err
    assert sent_ids(server) == Counter()


def test_nothing_to_move_without_a_local_store(
    data_home: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_home, server, monkeypatch)
    code, out, _ = run(capsys, "migrate", "--to", "server")
    assert code == 0 and out.startswith("nothing to move: there is no local store at")


def test_a_stop_midway_is_resumed_by_running_it_again(
    data_home: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mem0_hooks.backends.server import ServerBackend

    configure(data_home, server, monkeypatch)
    ids = fill_local_store()
    original = ServerBackend._add_one
    calls = [0]

    def goes_down(self: ServerBackend, item: Any) -> None:
        calls[0] += 1
        if calls[0] > 15:
            raise BackendUnavailable("connection refused (test)")
        original(self, item)

    monkeypatch.setattr(ServerBackend, "_add_one", goes_down)
    code, out, err = run(capsys, "migrate", "--to", "server")
    assert code == 1
    assert out.startswith(f"moved 15 of {MEMORIES} local memories")
    assert "error: stopped: the server store is unavailable" in err
    assert "run `mem0-hooks migrate --to server` again" in err
    assert queue.depth() == 0  # (the hooks' queue: the migration's own waits in <data>/migrate/server)

    monkeypatch.setattr(ServerBackend, "_add_one", original)
    code, out, err = run(capsys, "migrate", "--to", "server")
    assert code == 0, err
    assert out.startswith(f"moved {MEMORIES - 15} of {MEMORIES} local memories")
    assert sent_ids(server) == Counter({i: 1 for i in ids})


_KILLED = r"""
import os, signal, sys
sys.path.insert(0, {root!r})
from mem0_hooks.backends.server import ServerBackend
from mem0_hooks.cli.main import main
original = ServerBackend._add_one
calls = [0]
def add_then_die(self, item):
    calls[0] += 1
    original(self, item)  # the store has it ...
    if calls[0] == {nth}:
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the ledger never hears of it
ServerBackend._add_one = add_then_die
raise SystemExit(main(["migrate", "--to", "server"]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("nth", [1, 17, 0])
def test_a_migration_killed_at_any_point_sends_each_memory_once(
    data_home: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch, nth: int, report: Any
) -> None:
    """Killed right after the store took a memory and before the ledger recorded it (the worst moment),
    or at a random moment (``nth`` 0: while memories are being sent); then run again."""
    configure(data_home, server, monkeypatch)
    ids = fill_local_store()
    env = {**os.environ, "MEM0_API_KEY": server.default_key or ""}
    if nth:
        proc = subprocess.run(
            [sys.executable, "-c", _KILLED.format(root=str(REPO_ROOT), nth=nth)], env=env, capture_output=True
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    else:
        code = f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); from mem0_hooks.cli.main import main; "
        code += "raise SystemExit(main(['migrate', '--to', 'server']))"
        live = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
        wait_for(lambda: len(sent_ids(server)) >= MEMORIES // 2, interval=0.002, what="half the memories sent")
        live.send_signal(signal.SIGKILL)
        assert live.wait(30) == -signal.SIGKILL
    before = len(sent_ids(server))
    assert main(["migrate", "--to", "server"]) == 0
    counts = sent_ids(server)
    report(f"MIGRATE killed after {before} of {MEMORIES} sent; after the rerun: {sum(counts.values())} adds")
    assert counts == Counter({i: 1 for i in ids})
    assert os.listdir(os.path.join(migrate.queue_root("server"), "pending")) == []
