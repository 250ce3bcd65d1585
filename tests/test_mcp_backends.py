"""The memory tools on each remote backend, against the fake servers that answer as the real ones do.

For each of platform, openmemory and server: a note added through the tool reaches the store (once),
is found by search, listed, and forgotten (in the store and in the local index beside it);
delete_all_memories forgets this project's memories and nothing else; a store that is down leaves a
search the local index (or, with ``fallback_mode: skip``, is a one-line error) and a queued note that is
delivered once it is back; a store that does not answer costs a call its deadline, not more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mem0_hooks.cli.main import main as cli
from tests.support.fake_mem0 import FakeMem0, FakeOpenMemory, FakePlatform, FakeServer
from tests.support.mcp_client import mcp_session
from tests.test_remote_loop import configure

FACT = "The payments service retries webhooks with exponential backoff capped at 90 seconds"


@pytest.fixture(params=["platform", "openmemory", "server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeMem0]:
    cls = {"platform": FakePlatform, "openmemory": FakeOpenMemory, "server": FakeServer}[request.param]
    with cls() as server:
        yield server


def live(fake: FakeMem0) -> dict[str, dict]:
    """The fake's memories that are not forgotten (OpenMemory keeps a deleted one with state "deleted")."""
    return {i: r for i, r in fake.memories.items() if r.get("state", "active") == "active"}


def texts(fake: FakeMem0) -> list[str]:
    return [str(r.get("memory") or r.get("content") or r.get("text") or "") for r in live(fake).values()]


def local_texts() -> list[str]:
    from mem0_hooks.backends.local import LocalStore

    store = LocalStore()
    try:
        return [m.text for m in store.list()]
    finally:
        store.close()


def copies_of(fake: FakeMem0, item_id: str) -> int:
    return sum(1 for r in fake.memories.values() if item_id in json.dumps(r))


def test_every_tool_on_the_backend(
    data_home: Path, fake: FakeMem0, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(data_home, fake, monkeypatch)
    other = fake.seed("the payments service of another project", metadata={"project": str(tmp_path / "elsewhere")})
    with mcp_session(project) as server:
        ok, added = server.call("add_memories", {"text": FACT})
        assert ok and added["status"] == "stored", added
        assert copies_of(fake, added["id"]) == 1 and FACT in texts(fake)

        ok, found = server.call("search_memory", {"query": "how does the payments service retry webhooks"})
        assert ok, found
        hit = next(m for m in found["memories"] if m["text"] == FACT)
        assert hit["role"] == "note" and hit["score"] is not None
        assert other not in [m["id"] for m in found["memories"]]  # another project's memory is not reached

        ok, listed = server.call("list_memories")
        assert ok and [m["text"] for m in listed["memories"]] == [FACT]

        ok, deleted = server.call("delete_memories", {"memory_ids": [hit["id"]]})
        assert ok and deleted["deleted"] == [hit["id"]] and FACT not in texts(fake)
        assert FACT not in local_texts()  # the local index beside the store forgot it too

        server.call("add_memories", {"text": "the second note of this project about retries"})
        ok, gone = server.call("delete_all_memories")
        assert ok and gone["deleted"] == 1
    assert list(live(fake)) == [other]  # the other project's memory stays
    assert local_texts() == []


def test_a_store_that_is_down_gives_one_line_and_loses_no_note(
    data_home: Path, fake: FakeMem0, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(data_home, fake, monkeypatch)
    fake.down()
    with mcp_session(project) as server:
        ok, found = server.call("search_memory", {"query": "payments webhooks"})
        assert ok and found["count"] == 0  # the local half (fallback_mode: local, the default): nothing yet
    monkeypatch.setenv("MEM0_HOOKS_CLAUDE_CODE_FALLBACK_MODE", "skip")
    with mcp_session(project) as server:
        ok, reason = server.call("search_memory", {"query": "payments webhooks"})
        assert not ok and "\n" not in reason and fake.service in reason
        ok, added = server.call("add_memories", {"text": FACT})
        assert ok and added["status"] == "queued" and "delivered" in added["note"]
    fake.up()
    assert cli(["replay"]) == 0
    assert copies_of(fake, added["id"]) == 1  # delivered, once
    assert cli(["replay"]) == 0
    assert copies_of(fake, added["id"]) == 1


def test_a_store_that_does_not_answer_costs_a_call_its_deadline(
    data_home: Path, fake: FakeMem0, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(data_home, fake, monkeypatch)
    monkeypatch.setenv("MEM0_HOOKS_MEM0_RECALL_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("MEM0_HOOKS_MEM0_WRITE_TIMEOUT_SECONDS", "1.5")
    fake.delay(30.0)  # every request hangs
    with mcp_session(project) as server:
        for tool, arguments, limit in [
            ("search_memory", {"query": "payments webhooks"}, 0.5 + 1.0),
            ("list_memories", {}, 1.5),
            ("delete_all_memories", {}, 1.5),
        ]:
            start = time.monotonic()
            ok, reason = server.call(tool, arguments)
            took = time.monotonic() - start
            if tool == "search_memory":  # the local half, once the remote's deadline has passed
                assert ok and reason["count"] == 0, reason
            else:
                assert not ok and "\n" not in reason, (tool, reason)
            assert took < limit + 1.5, (tool, took, reason)
        fake.reset_faults()
