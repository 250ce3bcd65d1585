"""``mem0-hooks mcp`` spoken to over stdio with the SDK's client, as Claude Code speaks to it.

Every tool on the local store; the ranking is recall's; what a project can reach; and the faults
(wrong arguments, too much or too little text, unknown ids, a locked or corrupt store, a store that
does not answer): each a tool error with one line, one log line, and the server still serving.
The remote backends are in ``test_mcp_backends.py``; the real Claude Code CLI in ``test_e2e_claude.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mem0_hooks import capture, paths, recall
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.local import LocalStore
from tests.data.secrets_corpus import SECRET_TURNS
from tests.support.mcp_client import SERVER_ARGV, mcp_session, server_env
from tests.support.stores import config_dict, read_log, write_config

TOOLS = ["search_memory", "add_memories", "list_memories", "delete_memories", "delete_all_memories"]
FACT = "We decided the payments client retries webhooks with exponential backoff capped at 90 seconds."


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "my project"
    (proj / ".git").mkdir(parents=True)
    (proj / "src").mkdir()
    return proj


@pytest.fixture
def home(data_home: Path) -> Path:
    return data_home


def seed(project: Path | str, texts: list[str], *, session: str = "s1", scope: str = "project") -> list[str]:
    """Turns in the local store as the flusher leaves them (made by capture), oldest first; their ids."""
    config = config_dict()
    items = []
    for n, text in enumerate(texts):
        item = capture.make_item(
            text=text,
            role="user" if n % 2 == 0 else "assistant",
            session_id=session,
            project="" if scope == "user" else str(project),
            seq=n + 1,
            created_at=f"2026-11-{1 + n // 100:02d}T10:{(n // 60) % 60:02d}:{n % 60:02d}Z",
            scope=scope,
            config=config,
        )
        assert item is not None
        items.append(item)
    store = LocalStore()
    store.add([MemoryItem.from_dict(i) for i in items])
    store.close()
    return [i["id"] for i in items]


def log_lines(word: str) -> list[str]:
    return [line for line in read_log().splitlines() if word in line]


# -- the tools -----------------------------------------------------------------------------------------
def test_the_five_tools_and_their_annotations(home: Path, project: Path) -> None:
    with mcp_session(project) as server:
        tools = {t.name: t for t in server.tools()}

    assert sorted(tools) == sorted(TOOLS)
    assert tools["search_memory"].input_schema["required"] == ["query"]
    assert tools["add_memories"].input_schema["required"] == ["text"]
    assert tools["delete_memories"].input_schema["properties"]["memory_ids"]["type"] == "array"
    assert "offset" in tools["list_memories"].input_schema["properties"]
    for name in ("search_memory", "list_memories"):
        assert tools[name].annotations.read_only_hint is True
    for name in ("delete_memories", "delete_all_memories"):
        assert tools[name].annotations.destructive_hint is True and not tools[name].annotations.read_only_hint
    assert tools["add_memories"].annotations.destructive_hint is False


def test_add_search_list_delete_over_stdio(home: Path, project: Path) -> None:
    with mcp_session(project / "src") as server:  # a subdirectory: the project is the git root, as for the hooks
        ok, added = server.call("add_memories", {"text": FACT})
        assert ok, added
        assert added["status"] == "stored" and added["project"] == str(project)

        ok, found = server.call("search_memory", {"query": "how do webhooks retry?"})
        assert ok and found["memories"][0]["id"] == added["id"]
        top = found["memories"][0]
        assert top["text"] == FACT and top["role"] == "note" and top["date"].startswith("20") and top["score"] > 0

        ok, listed = server.call("list_memories")
        assert ok and [m["id"] for m in listed["memories"]] == [added["id"]] and listed["next_offset"] is None

        ok, again = server.call("add_memories", {"text": FACT})  # the same note: the same id, stored once
        assert ok and again["id"] == added["id"]
        assert len(LocalStore().list(project=str(project))) == 1

        ok, deleted = server.call("delete_memories", {"memory_ids": [added["id"]]})
        assert ok and deleted["deleted"] == [added["id"]]
        ok, found = server.call("search_memory", {"query": "how do webhooks retry?"})
        assert ok and found["memories"] == []


def test_list_pages_newest_first(home: Path, project: Path) -> None:
    ids = seed(project, [f"turn number {n} about the build" for n in range(25)])
    with mcp_session(project) as server:
        ok, first = server.call("list_memories", {})
        ok2, second = server.call("list_memories", {"offset": first["next_offset"]})
        ok3, small = server.call("list_memories", {"offset": 3, "limit": 2})

    assert ok and ok2 and ok3
    assert [m["id"] for m in first["memories"]] == ids[::-1][:20] and first["next_offset"] == 20
    assert [m["id"] for m in second["memories"]] == ids[::-1][20:] and second["next_offset"] is None
    assert [m["id"] for m in small["memories"]] == ids[::-1][3:5] and small["next_offset"] == 5


def test_search_ranks_as_prompt_recall_does(home: Path, project: Path) -> None:
    texts = [
        "The staging database is aurora-blue on port 6543.",
        "Good, I will point the migrations at aurora-blue.",
        "Lunch was fine, the build is green.",
        "Which port does the cache use? Redis is on 6380.",
        "The staging database password rotates monthly.",
        "I noted the rotation schedule for staging.",
    ] * 3
    seed(project, texts)
    query = "what port does the staging database listen on"
    config = config_dict()
    expected = [m.id for m in recall.search(query, project=str(project), config=config, limit=10)]

    with mcp_session(project) as server:
        ok, found = server.call("search_memory", {"query": query})

    assert ok and [m["id"] for m in found["memories"]] == expected and expected
    scores = [m["score"] for m in found["memories"]]
    assert scores == sorted(scores, reverse=True)


def test_a_project_reaches_its_own_memories_and_the_user_wide_ones_only(
    home: Path, project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    (other / ".git").mkdir(parents=True)
    mine = seed(project, ["the deploy key for aurora lives in vault path ops/aurora"], session="a")
    theirs = seed(other, ["aurora cluster in the other project uses vault too"], session="b")
    everywhere = seed(
        project, ["my own aurora vault notes: personal tokens live in 1password"], session="", scope="user"
    )

    with mcp_session(project) as server:
        ok, found = server.call("search_memory", {"query": "aurora vault"})
        assert ok
        assert {m["id"] for m in found["memories"]} == {mine[0], everywhere[0]}
        assert [m for m in found["memories"] if m["id"] == everywhere[0]][0]["scope"] == "user"
        ok, refused = server.call("delete_memories", {"memory_ids": [theirs[0]]})
        assert not ok and theirs[0] in refused
        ok, gone = server.call("delete_all_memories")
        assert ok and gone["deleted"] == 1

    remaining = {m.id for m in LocalStore().list()}
    assert remaining == {theirs[0], everywhere[0]}  # another project's and the user-wide note stay


def test_secrets_in_a_note_are_redacted_before_anything_is_stored(home: Path, project: Path) -> None:
    turn, secrets = next((t, s) for t, s in SECRET_TURNS if len(t) < 2000)
    with mcp_session(project) as server:
        ok, added = server.call("add_memories", {"text": turn})

    assert ok
    stored = json.dumps([m.text for m in LocalStore().list()]) + json.dumps(added)
    assert "[REDACTED" in stored
    for secret in secrets:
        assert secret not in stored


def test_an_opted_out_project_gets_nothing(home: Path, project: Path) -> None:
    (project / ".mem0-hooks-ignore").write_text("")
    with mcp_session(project) as server:
        ok, reason = server.call("add_memories", {"text": FACT})
    assert not ok and "switched off" in reason
    assert paths.store_db() and not LocalStore().list()


# -- bad input -------------------------------------------------------------------------------------------
BAD_CALLS = [
    ("search_memory", {"query": 5}, "query must be a string, got an integer"),
    ("search_memory", {}, "needs the argument 'query'"),
    ("search_memory", {"query": None}, "query must be a string, got null"),
    ("search_memory", {"query": "x", "limit": 3}, "takes no argument 'limit'"),
    ("search_memory", {"query": "   "}, "query is empty"),
    ("add_memories", {"text": ["a", "b"]}, "text must be a string, got an array"),
    ("add_memories", {"text": ""}, "text is empty"),
    ("add_memories", {"text": "x" * 1_048_576}, "text is 1,048,576 characters"),
    ("list_memories", {"offset": -1}, "offset must be between 0"),
    ("list_memories", {"limit": "ten"}, "limit must be an integer, got a string"),
    ("list_memories", {"limit": 500}, "limit must be between 1 and 50"),
    ("list_memories", {"offset": True}, "offset must be an integer, got a boolean"),
    ("delete_memories", {"memory_ids": "abc"}, "memory_ids must be an array of strings, got a string"),
    ("delete_memories", {"memory_ids": [1, 2]}, "memory_ids must be an array of strings; it holds an integer"),
    ("delete_memories", {"memory_ids": []}, "memory_ids is empty"),
    ("delete_memories", {"memory_ids": ["no-such-id"]}, "no memory of this project has the id(s) no-such-id"),
    ("delete_all_memories", {"everything": True}, "takes no argument 'everything'"),
    ("forget_everything", {}, "no tool 'forget_everything'"),
]


def test_bad_arguments_are_tool_errors_of_one_line_each(home: Path, project: Path) -> None:
    with mcp_session(project) as server:
        for tool, arguments, reason in BAD_CALLS:
            result = server.call_raw(tool, arguments)
            text = result.content[0].text
            assert result.is_error, (tool, arguments, text)
            assert reason in text and "\n" not in text, (tool, arguments, text)
        ok, _ = server.call("search_memory", {"query": "still serving"})  # none of that hurt the server
        assert ok
    warnings = log_lines(" mcp ")
    assert len(warnings) == len(BAD_CALLS)  # one log line each
    assert all(" WARNING " in line for line in warnings)


# -- faults ---------------------------------------------------------------------------------------------
def test_a_locked_store_is_an_error_within_the_deadline(home: Path, project: Path) -> None:
    seed(project, ["the queue worker drains at most 200 items per batch"])
    write_config(home, mem0={"recall_timeout_seconds": 0.5, "write_timeout_seconds": 2.0})
    # WAL readers pass a plain EXCLUSIVE transaction; an exclusive locking mode with a write shuts them out.
    locker = sqlite3.connect(paths.store_db(), isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("DELETE FROM memories WHERE id = 'none'")
    try:
        with mcp_session(project) as server:
            took, (ok, reason) = server.timed("search_memory", {"query": "queue worker batch"})
            assert not ok and "\n" not in reason and took < 0.5 + 1.0 + 1.0, (took, reason)
            took, (ok, reason) = server.timed("list_memories")
            assert not ok and "\n" not in reason and took < 2.0 + 1.0, (took, reason)
            locker.close()  # (an exclusive locking mode lets go of the file only with the connection)
            # The abandoned calls let go of the store when SQLite gives up (5 s); then it serves again.
            deadline = time.monotonic() + 15
            while True:
                ok, found = server.call("search_memory", {"query": "queue worker batch"})
                if ok or time.monotonic() > deadline:
                    break
            assert ok and found["count"] == 1, found
    finally:
        locker.close()
    assert len(log_lines(" mcp search_memory")) >= 1 and len(log_lines(" mcp list_memories")) == 1


def test_a_corrupt_store_is_an_error_and_the_server_keeps_serving(home: Path, project: Path) -> None:
    Path(paths.store_db()).parent.mkdir(parents=True, exist_ok=True)
    Path(paths.store_db()).write_bytes(b"this is not a database, it is a text file " * 200)
    with mcp_session(project) as server:
        for tool, arguments in [("search_memory", {"query": "deploy pipeline"}), ("list_memories", {})]:
            ok, reason = server.call(tool, arguments)
            assert not ok and "local" in reason and "\n" not in reason
            assert "not a database" in reason or "cannot be opened" in reason
        assert server.tool_names() == TOOLS  # still serving
    assert len(log_lines(" mcp ")) == 2


def test_stdout_carries_protocol_only_even_when_the_store_fails(home: Path, project: Path) -> None:
    """Raw JSON-RPC through a pipe: every line the server writes is a JSON-RPC message, nothing else."""
    Path(paths.store_db()).parent.mkdir(parents=True, exist_ok=True)
    Path(paths.store_db()).write_bytes(b"garbage" * 100)
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "search_memory", "arguments": {"query": "deploy pipeline"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "add_memories", "arguments": {"text": 7}},
        },
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "delete_all_memories", "arguments": {}}},
    ]
    env = dict(os.environ, **server_env())
    proc = subprocess.Popen(
        SERVER_ARGV, cwd=project, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    answers: dict[int, dict] = {}
    lines: list[bytes] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            message = json.loads(line)
            if "id" in message:
                answers[message["id"]] = message

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for request in requests:
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        if request.get("id") == 1:
            deadline = time.monotonic() + 30
            while 1 not in answers and time.monotonic() < deadline:
                time.sleep(0.01)
    deadline = time.monotonic() + 30
    while len(answers) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.stdin.close()
    proc.wait(10)
    reader.join(5)
    proc.stdout.close()
    proc.stderr.close()  # type: ignore[union-attr]

    assert sorted(answers) == [1, 2, 3, 4, 5]
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in lines)  # protocol only, line by line
    assert answers[3]["result"]["isError"] and answers[4]["result"]["isError"] and answers[5]["result"]["isError"]
    assert proc.returncode == 0


def test_the_server_answers_initialize_quickly(home: Path, project: Path, report) -> None:  # type: ignore[no-untyped-def]
    """The target is 1 s on this machine (bench/mcp.py measures it); the test allows for a busy one."""
    start = time.monotonic()
    with mcp_session(project) as server:
        ready = time.monotonic() - start
        assert server.tool_names() == TOOLS
    report(f"MCP initialize answered {ready * 1000:.0f} ms after the server was started")
    assert ready < 5.0


def test_the_server_module_loads_nothing_before_it_serves(home: Path) -> None:
    """The store, the config model and the SDK are imported when needed, not with the module."""
    heavy = ("mcp", "yaml", "pydantic", "mem0_hooks.backends.local", "mem0_hooks.recall")
    code = f"import sys; from mem0_hooks import mcp_server; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
