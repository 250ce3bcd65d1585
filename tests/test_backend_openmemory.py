"""OpenMemoryBackend against FakeOpenMemory: REST for capture, MCP streamable HTTP for recall (spec A2)."""

from __future__ import annotations

import time

import pytest

from mem0_hooks import breaker
from mem0_hooks.backends import open_backend
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.openmemory import OpenMemoryBackend
from mem0_hooks.errors import BackendError, BackendRejected, BackendUnavailable
from tests.support.fake_mem0 import FakeOpenMemory

VERSION_TRAP = "Error searching memory: Qdrant.search() got an unexpected keyword argument 'limit'"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEM0_API_KEY", raising=False)


@pytest.fixture
def fake():
    with FakeOpenMemory(users=("alice",)) as server:
        yield server


def item(id="i1", text="We use postgres for the database", role="user", session="sess-1", project="/repo", **kw):
    return MemoryItem(
        id=id, text=text, role=role, created_at="2026-03-01T10:00:00Z", session_id=session, project=project, **kw
    )


def backend(fake, *, for_recall=False, **mem0):
    return OpenMemoryBackend(fake.config(mem0=mem0), for_recall=for_recall)


def seeded(fake):
    b = backend(fake)
    b.add(
        [
            item(),
            item(id="i2", text="The other project uses mysql database", project="/elsewhere"),
            item(id="i3", text="Alice likes short database names", role="note", session="", project="", scope="user"),
        ]
    )
    return b


def test_open_backend_builds_it(fake):
    assert isinstance(open_backend(fake.config(), for_recall=True), OpenMemoryBackend)


def test_add_body_carries_app_identity_and_metadata(fake):
    backend(fake, infer=False, app="my-app").add([item()])
    req = fake.last("/api/v1/memories/", "POST")
    body = req.body
    assert set(body) == {"user_id", "text", "metadata", "infer", "app"}
    assert (body["user_id"], body["text"], body["infer"], body["app"]) == (
        "alice",
        "We use postgres for the database",
        False,
        "my-app",
    )
    md = body["metadata"]
    assert (md["agent_id"], md["run_id"], md["project"], md["mem0_hooks_id"], md["role"]) == (
        "claude-code",
        "sess-1",
        "/repo",
        "i1",
        "user",
    )
    assert "authorization" not in req.headers and "x-api-key" not in req.headers  # OpenMemory has no auth


def test_an_unknown_user_is_created_through_mcp_and_the_add_goes_through(fake):
    b = OpenMemoryBackend(fake.config(user_id="bob"))
    b.add([item()])  # 404 User not found, then an MCP tool call creates the user, as the real server does
    assert len(fake.memories) == 1
    assert [r.path for r in fake.requests].count("/api/v1/memories/") == 2


def test_a_user_mcp_cannot_create_is_a_clear_rejection_saying_how(fake):
    fake.mcp_enabled = False
    b = OpenMemoryBackend(fake.config(user_id="bob"))
    with pytest.raises(BackendRejected) as caught:
        b.add([item()])
    err = caught.value
    assert err.status == 404 and err.server_message == "User not found"
    assert "no user 'bob'" in str(err) and "user_id" in str(err) and "USER" in str(err)
    assert "curl -X POST" in str(err) and "/mcp/claude-code/http/bob" in str(err)


def test_200_with_error_body_is_a_retryable_failure(fake):
    fake.llm_error = "Error code: 401 - Incorrect API key provided"
    with pytest.raises(BackendUnavailable) as caught:
        backend(fake).add([item()])
    assert caught.value.status == 200 and "Incorrect API key" in str(caught.value)
    assert caught.value.retryable


def test_null_body_means_nothing_new_and_is_success(fake):
    fake.nothing_to_add = True
    backend(fake, infer=True).add([item()])
    assert fake.memories == {}


def test_paused_app_is_rejected(fake):
    fake.paused_apps.add("claude-code")
    with pytest.raises(BackendRejected, match="paused"):
        backend(fake).add([item()])


def test_round_trip_through_mcp_search(fake):
    b = seeded(fake)
    found = b.search("which database do we use", project="/repo", limit=5)
    assert [m.text for m in found] == ["We use postgres for the database", "Alice likes short database names"]
    top = found[0]
    assert (top.project, top.role, top.session_id, top.created_at) == (
        "/repo",
        "user",
        "sess-1",
        "2026-03-01T10:00:00Z",
    )
    assert top.score and top.metadata["mem0_hooks_id"] == "i1"
    call = fake.last("/mcp/", "POST")
    assert call.path == "/mcp/claude-code/http/alice"
    assert call.body["jsonrpc"] == "2.0" and call.body["method"] == "tools/call"
    assert call.body["params"] == {"name": "search_memory", "arguments": {"query": "which database do we use"}}
    assert "application/json" in call.headers["accept"] and "text/event-stream" in call.headers["accept"]
    assert not fake.requests_to("/api/v1/memories/", "GET") or all(
        "search_query" not in r.query for r in fake.requests_to("/api/v1/memories/", "GET")
    )
    assert {m.text for m in b.list()} == {r["content"] for r in fake.memories.values()}
    assert [m.text for m in b.list(project="/elsewhere")] == ["The other project uses mysql database"]
    assert b.count() == 3
    assert b.delete(top.id) is True and b.delete(top.id) is False
    assert b.delete("not-a-uuid") is False


def test_mcp_answers_as_an_event_stream(fake):
    fake.mcp_sse = True
    b = seeded(fake)
    assert b.search("postgres database", project="/repo", limit=5)[0].text == "We use postgres for the database"


def test_stateful_mcp_gets_the_handshake(fake):
    fake.mcp_stateful = True
    b = seeded(fake)
    assert b.search("postgres database", project="/repo", limit=5)[0].text == "We use postgres for the database"
    methods = [r.body.get("method") for r in fake.requests_to("/mcp/")]
    assert methods == ["tools/call", "initialize", "notifications/initialized", "tools/call"]
    last = fake.last("/mcp/")
    assert last.headers["mcp-session-id"] in fake.sessions
    assert last.headers["mcp-protocol-version"] == "2025-03-26"


def test_mcp_tool_error_falls_back_to_keyword_search_and_parks_mcp(fake):
    """Without the local index (``mem0.local_index: false``): REST keywords stand in for MCP."""
    fake.mcp_tool_error = VERSION_TRAP
    seeded(fake)
    b = backend(fake, local_index=False)
    found = b.search("which postgres database", project="/repo", limit=5)
    assert found[0].text == "We use postgres for the database"
    assert {m.project for m in found} <= {"/repo", ""}
    rest = [r.query["search_query"] for r in fake.requests_to("/api/v1/memories/", "GET") if "search_query" in r.query]
    assert rest and set(rest) <= {"postgres", "database", "which"}
    assert breaker.is_open("openmemory-mcp") and "Qdrant.search()" in breaker.status("openmemory-mcp")["last_failure"]
    mcp_calls = len(fake.requests_to("/mcp/"))
    b.search("postgres", project="/repo", limit=5)
    assert len(fake.requests_to("/mcp/")) == mcp_calls  # MCP parked: straight to REST
    assert not breaker.is_open("openmemory")  # the store itself is fine


def test_missing_mcp_route_falls_back_to_rest(fake):
    fake.mcp_enabled = False
    seeded(fake)
    b = backend(fake, local_index=False)
    assert b.search("postgres database", project="/repo", limit=5)[0].text == "We use postgres for the database"


def test_hits_stored_elsewhere_are_placed_by_the_directory_not_by_a_read_each(fake):
    """A hit this machine did not store has no project (MCP gives text and score alone): it comes back as
    "unknown", with no request per hit, until the flusher reads the listing into the directory."""
    metadata = {"project": "/repo", "scope": "project", "role": "assistant", "run_id": "s9", "mem0_hooks_id": "x1"}
    fake.seed("The postgres database was moved to port 6543", metadata=metadata)
    fake.seed("The elsewhere postgres database is mysql now", metadata={**metadata, "project": "/elsewhere"})
    b = backend(fake, for_recall=True)
    found = b.search("postgres database", project="/repo", limit=5)
    assert {m.scope for m in found} == {"unknown"} and len(found) == 2
    assert not fake.requests_to("/api/v1/memories/", "GET")  # no read per hit on the hot path
    assert b.directory.due(b.owner)  # a hook asked for the listing

    assert backend(fake).refresh_directory() == 2
    found = b.search("postgres database", project="/repo", limit=5)
    assert [(m.text, m.project, m.role, m.session_id) for m in found] == [
        ("The postgres database was moved to port 6543", "/repo", "assistant", "s9")
    ]
    assert backend(fake).refresh_directory() == 0  # fresh, and nobody asked


def test_the_directory_reads_only_what_is_new(fake):
    b = backend(fake)
    for n in range(150):
        fake.seed(f"memory number {n}", metadata={"project": "/repo", "scope": "project"})
    assert b.refresh_directory(force=True) == 150
    pages = len([r for r in fake.requests_to("/api/v1/memories/", "GET") if r.query.get("page")])
    fake.seed("one more", metadata={"project": "/repo", "scope": "project"})
    assert b.refresh_directory(force=True) == 1
    later = len([r for r in fake.requests_to("/api/v1/memories/", "GET") if r.query.get("page")])
    assert pages == 2 and later - pages <= 2


def test_health_uses_openapi_a_listing_and_mcp_never_a_health_route(fake):
    text = seeded(fake).health()
    assert "user 'alice' has 3 memories" in text and "semantic recall via MCP works" in text
    paths = [r.path for r in fake.requests]
    assert "/openapi.json" in paths and "/health" not in paths and "/api/health" not in paths


def test_health_reports_the_keyword_fallback(fake):
    fake.mcp_tool_error = VERSION_TRAP
    assert "keyword search is used instead" in seeded(fake).health()


def test_health_of_an_unknown_user_creates_it(fake):
    assert "user 'bob' (just created through its MCP endpoint) has 0 memories" in (
        OpenMemoryBackend(fake.config(user_id="bob")).health()
    )
    fake.mcp_enabled = False
    with pytest.raises(BackendRejected, match="no user 'carol'"):
        OpenMemoryBackend(fake.config(user_id="carol")).health()


def test_health_of_something_else(fake):
    fake.fail_with(200, {"openapi": "3.1.0", "paths": {"/v1/memories/": {}}}, match="/openapi.json")
    with pytest.raises(BackendRejected, match="not an OpenMemory API server"):
        backend(fake).health()


def test_already_stored_reads_metadata(fake):
    seeded(fake)
    fresh = backend(fake)
    assert fresh.already_stored("i1") and fresh.already_stored("i1", session_id="sess-1")
    assert not fresh.already_stored("nope") and not fresh.already_stored("i1", session_id="other")


def test_delete_all_touches_only_our_memories(fake):
    b = seeded(fake)
    foreign = fake.seed("from Claude Desktop", user_id="alice", app="claude-desktop")
    assert b.delete_all(project="/repo") == 1
    assert b.delete_all() == 2
    assert [r["id"] for r in fake.memories.values() if r["state"] == "active"] == [foreign]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"detail": "bad"}, BackendRejected),
        (422, {"detail": [{"loc": ["body", "text"], "msg": "Field required"}]}, BackendRejected),
        (409, {"detail": "x"}, BackendRejected),
        (500, {"detail": "x"}, BackendUnavailable),
        (503, None, BackendUnavailable),
    ],
)
def test_rest_statuses_map(fake, status, body, kind):
    fake.fail_with(status, body)
    with pytest.raises(BackendError) as caught:
        backend(fake).add([item()])
    assert type(caught.value) is kind and caught.value.status == status


def test_down_server_says_where_it_looked(fake):
    b = backend(fake, for_recall=True)
    fake.down()
    with pytest.raises(BackendUnavailable) as caught:
        b.search("postgres", project="/repo", limit=3)
    assert "connection refused" in str(caught.value)
    assert f"is the OpenMemory server running at {fake.base_url}" in str(caught.value)
    assert not breaker.is_open("openmemory-mcp")  # a dead server is not an MCP problem
    assert breaker.is_open("openmemory")


def test_recall_is_bounded_even_when_everything_hangs(fake):
    seeded(fake)
    fake.delay(5.0)
    b = backend(fake, for_recall=True, recall_timeout_seconds=0.6)
    start = time.monotonic()
    with pytest.raises(BackendUnavailable):
        b.search("postgres database", project="/repo", limit=3)
    assert time.monotonic() - start < 2.0


def test_slow_mcp_leaves_time_for_the_rest_fallback(fake):
    seeded(fake)
    fake.delay(5.0, match="/mcp/")
    b = backend(fake, for_recall=True, recall_timeout_seconds=1.0, local_index=False)
    start = time.monotonic()
    found = b.search("postgres database", project="/repo", limit=3)
    assert time.monotonic() - start < 2.0
    assert found and found[0].text == "We use postgres for the database"


def test_with_the_local_index_mcp_has_the_whole_deadline_and_no_keyword_fallback(fake):
    """The hybrid store: the local index ranks by words already, so MCP gets all the time there is, and
    its failure is the search's (recall has the local half)."""
    seeded(fake)
    fake.mcp_tool_error = VERSION_TRAP
    b = backend(fake, for_recall=True)
    with pytest.raises(BackendUnavailable, match="search_memory failed"):
        b.search("postgres database", project="/repo", limit=3)
    assert not [r for r in fake.requests_to("/api/v1/memories/", "GET") if "search_query" in r.query]
    fake.mcp_tool_error = None
    breaker.reset("openmemory")
    fake.delay(0.8, match="/mcp/")  # past the old 70% share of a 1 s deadline, within the deadline
    found = backend(fake, for_recall=True, recall_timeout_seconds=1.0).search(
        "postgres database", project="/repo", limit=3
    )
    assert found and found[0].text == "We use postgres for the database"


def test_retention_forgets_only_our_memories_older_than_the_cutoff(fake):
    md = {"mem0_hooks_id": "x", "user_id": "alice", "project": "/repo"}
    old = fake.seed("an old turn", metadata=dict(md, created_at="2020-01-01T00:00:00Z"))
    foreign = fake.seed("written by another app", metadata={"created_at": "2020-01-01T00:00:00Z"})
    new = fake.seed("a new turn", metadata=dict(md, created_at="2026-12-01T00:00:00Z"))
    assert backend(fake).delete_older_than("2026-01-01T00:00:00Z") == 1
    assert old not in fake.memories or fake.memories[old]["state"] != "active"
    assert fake.memories[foreign]["state"] == "active" and fake.memories[new]["state"] == "active"
