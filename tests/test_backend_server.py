"""ServerBackend against FakeServer: the self-hosted mem0 REST server (spec A3)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from mem0_hooks import breaker
from mem0_hooks.backends import open_backend
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.server import ServerBackend, looks_like_jwt
from mem0_hooks.errors import BackendError, BackendRejected, BackendUnavailable
from tests.support.fake_mem0 import FakeServer

KEY = "m0sk_secret_0123456789abcdef"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


JWT = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'sub': 'alice', 'exp': 9999999999})}.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEM0_API_KEY", raising=False)


@pytest.fixture
def fake():
    with FakeServer(api_keys=(KEY,), jwt_tokens=(JWT,)) as server:
        yield server


def item(
    id="i1",
    text="We use postgres for the database",
    role="user",
    session="sess-1",
    project="/repo",
    created_at="2026-03-01T10:00:00Z",
    **kw,
):
    return MemoryItem(id=id, text=text, role=role, created_at=created_at, session_id=session, project=project, **kw)


def backend(fake, *, for_recall=False, **mem0):
    return ServerBackend(fake.config(mem0=mem0), for_recall=for_recall)


def test_open_backend_builds_it(fake):
    assert isinstance(open_backend(fake.config(), for_recall=True), ServerBackend)


def test_add_body_and_x_api_key(fake):
    ServerBackend(fake.config(mem0={"infer": False}, privacy={"auto_delete_after_days": 10})).add(
        [item(), item(id="i2", text="I wrote the migration", role="assistant")]
    )
    first, second = fake.requests_to("/memories", "POST")
    assert first.path == "/memories"
    assert first.headers["x-api-key"] == KEY and "authorization" not in first.headers
    body = first.body
    assert body["messages"] == [{"role": "user", "content": "We use postgres for the database"}]
    assert (body["user_id"], body["agent_id"], body["run_id"], body["infer"]) == (
        "alice",
        "claude-code",
        "sess-1",
        False,
    )
    assert body["expiration_date"] == "2026-03-11"
    assert body["metadata"]["project"] == "/repo" and body["metadata"]["mem0_hooks_id"] == "i1"
    assert second.body["messages"][0]["role"] == "assistant"


def test_no_request_has_a_trailing_slash_or_v1_prefix(fake):
    b = backend(fake)
    b.add([item()])
    b.search("database", project="/repo", limit=3)
    b.delete(b.list()[0].id)
    b.health()
    for request in fake.requests:
        assert not request.path.endswith("/") and not request.path.startswith("/v1")


def test_a_jwt_is_sent_as_bearer(fake):
    assert looks_like_jwt(JWT) and not looks_like_jwt(KEY) and not looks_like_jwt("a.b.c")
    b = backend(fake, api_key=JWT)
    b.add([item()])
    req = fake.last("/memories", "POST")
    assert req.headers["authorization"] == f"Bearer {JWT}" and "x-api-key" not in req.headers
    assert "Bearer" in b.health()


def test_no_key_sends_no_credentials_and_explains_the_401(fake):
    b = backend(fake, api_key=None)
    with pytest.raises(BackendRejected) as caught:
        b.add([item()])
    err = caught.value
    assert err.status == 401 and "Authentication required" in err.server_message
    assert "MEM0_API_KEY" in str(err) and "/api-keys" in str(err)
    req = fake.last("/memories")
    assert "x-api-key" not in req.headers and "authorization" not in req.headers


def test_auth_disabled_server_works_without_a_key():
    with FakeServer(auth_disabled=True) as open_server:
        b = ServerBackend(open_server.config(mem0={"api_key": None}))
        b.add([item()])
        assert b.search("postgres", project="/repo", limit=3)


def test_wrong_key_is_rejected_and_never_shown(fake):
    b = backend(fake, api_key="m0sk_wrong_key_zzz")
    with pytest.raises(BackendRejected) as caught:
        b.search("database", project="/repo", limit=3)
    err = caught.value
    assert err.status == 401 and err.server_message == "Invalid API key."
    assert "X-API-Key" in str(err)
    assert "m0sk_wrong_key_zzz" not in str(err) + repr(err) + repr(b)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 502])
def test_the_key_never_appears_even_when_echoed(fake, status):
    fake.fail_with(status, {"detail": f"key {KEY} refused", "code": "unknown"})
    with pytest.raises(BackendError) as caught:
        backend(fake).add([item()])
    err = caught.value
    assert KEY not in " ".join(str(x) for x in (err, repr(err), err.server_message, err.hint, err.args))


def test_round_trip_with_project_filtering(fake):
    b = backend(fake)
    b.add(
        [
            item(),
            item(
                id="i2",
                text="The other project uses mysql database",
                project="/elsewhere",
                created_at="2026-03-02T10:00:00Z",
            ),
            item(
                id="i3",
                text="Alice likes short database names",
                role="note",
                session="",
                project="",
                scope="user",
                created_at="2026-03-03T10:00:00Z",
            ),
        ]
    )
    found = b.search("which database do we use", project="/repo", limit=5)
    assert [m.text for m in found] == ["We use postgres for the database", "Alice likes short database names"]
    top = found[0]
    assert (top.project, top.role, top.session_id) == ("/repo", "user", "sess-1")
    body = fake.last("/search").body  # the server restricts the search to the project itself
    assert body["filters"] == {
        "user_id": "alice",
        "NOT": [{"mem0_hooks_id": "*", "project": {"nin": ["/repo"]}, "scope": {"ne": "user"}}],
    }
    assert 5 <= body["top_k"] <= 10
    assert {m.text for m in b.list()} == {r["memory"] for r in fake.memories.values()}
    assert fake.last("/memories", "GET").query == {"user_id": "alice", "top_k": "1000"}
    assert [m.text for m in b.recent(project="/elsewhere", limit=5)] == [
        "Alice likes short database names",
        "The other project uses mysql database",
    ]
    assert b.count() == 3
    assert b.delete(top.id) is True and b.delete(top.id) is False


def test_already_stored_narrows_to_the_session(fake):
    backend(fake).add([item()])
    fresh = backend(fake)
    assert fresh.already_stored("i1", session_id="sess-1")
    assert fake.last("/memories", "GET").query["run_id"] == "sess-1"
    assert not fresh.already_stored("i9", session_id="sess-1")
    assert fresh.already_stored("i1")


def test_delete_all_touches_only_our_memories(fake):
    b = backend(fake)
    b.add([item(id="a"), item(id="b", project="/other")])
    foreign = fake.seed("from another app", user_id="alice")
    assert b.delete_all(project="/other") == 1
    assert b.delete_all() == 1
    assert list(fake.memories) == [foreign]


def test_provider_failure_is_unavailable_with_its_code(fake):
    fake.provider_down = "provider_unavailable"
    with pytest.raises(BackendUnavailable) as caught:
        backend(fake).add([item()])
    err = caught.value
    assert err.status == 502 and "[provider_unavailable]" in str(err)
    assert "Provider is unreachable" in err.server_message and "request id" in err.server_message
    assert "LLM or embedder provider" in err.hint


def test_validation_errors_are_flattened(fake):
    fake.fail_with(422, {"detail": [{"type": "missing", "loc": ["body", "messages"], "msg": "Field required"}]})
    with pytest.raises(BackendRejected, match="messages: Field required"):
        backend(fake).add([item()])


def test_missing_identifier_400(fake):
    fake.fail_with(400, {"detail": "At least one identifier (user_id, agent_id, run_id) is required."})
    with pytest.raises(BackendRejected, match="At least one identifier"):
        backend(fake).add([item()])


def test_trailing_slash_404_explains_itself(fake):
    with pytest.raises(BackendRejected) as caught:
        backend(fake).api.call("GET", "/memories/")
    assert caught.value.status == 404 and "no trailing slashes" in str(caught.value)


def test_health_probes_openapi_then_an_authenticated_search(fake):
    text = backend(fake).health()
    assert "authenticated (X-API-Key)" in text
    assert [r.path for r in fake.requests] == ["/openapi.json", "/search"]
    with pytest.raises(BackendRejected) as caught:
        backend(fake, api_key="m0sk_nope_nope").health()
    assert caught.value.status == 401


def test_health_surfaces_a_provider_outage(fake):
    fake.provider_down = "provider_timeout"
    with pytest.raises(BackendUnavailable, match="provider_timeout"):
        backend(fake).health()


def test_down_server(fake):
    b = backend(fake)
    fake.down()
    with pytest.raises(BackendUnavailable) as caught:
        b.add([item()])
    assert "connection refused" in str(caught.value)
    assert f"is the mem0 server running at {fake.base_url}" in str(caught.value)


def test_recall_bounded_and_breaker_cycle(fake, monkeypatch):
    fake.delay(5.0, times=1, match="/search")
    b = backend(fake, for_recall=True, recall_timeout_seconds=0.5, breaker_cooldown_seconds=20)
    start = time.monotonic()
    with pytest.raises(BackendUnavailable):
        b.search("database", project="/repo", limit=3)
    assert time.monotonic() - start < 2.0
    assert breaker.is_open("server")
    searches = len(fake.requests_to("/search"))
    with pytest.raises(BackendUnavailable, match="skipped"):
        b.search("database", project="/repo", limit=3)
    assert len(fake.requests_to("/search")) == searches
    later = time.time() + 21
    monkeypatch.setattr(breaker.time, "time", lambda: later)
    assert b.search("database", project="/repo", limit=3) == []
    assert not breaker.is_open("server")


def test_recent_is_bounded_on_the_hot_path(fake):
    fake.delay(5.0, match="/memories")
    b = backend(fake, for_recall=True, recall_timeout_seconds=0.5)
    start = time.monotonic()
    with pytest.raises(BackendUnavailable):
        b.recent(project="/repo", limit=5)
    assert time.monotonic() - start < 2.0


def test_the_role_the_server_keeps_outside_the_metadata_is_read(fake):
    """mem0 server 2.2.1 moves ``role`` out of the metadata into the record (seen on the real server)."""
    raw = {"id": "m1", "memory": "use postgres", "metadata": {"mem0_hooks_id": "i1"}, "role": "assistant"}
    memory = backend(fake)._memory(raw)
    assert memory is not None and memory.role == "assistant"


def test_the_project_filter_keeps_what_recall_may_see(fake):
    """This project's memories, its old path identities', user-wide ones and other clients' (no id of
    ours) pass the server's filter; another project's do not even leave the server."""
    b = backend(fake)
    b.add([item(), item(id="i2", text="postgres for the other database", project="/elsewhere")])
    b.add([item(id="i3", text="the user prefers postgres database names", project="/elsewhere", scope="user")])
    fake.seed("postgres database tip from another client", user_id="alice")
    found = b.search("postgres database", project="/repo", limit=10)
    assert sorted(m.text for m in found) == [
        "We use postgres for the database",
        "postgres database tip from another client",
        "the user prefers postgres database names",
    ]
    returned = fake.last("/search")
    assert returned.body["top_k"] < 30  # no over-fetch


def test_a_server_that_refuses_the_filter_is_filtered_here(fake, monkeypatch):
    """A vector store without these operators (400): the search is sent again unfiltered and filtered
    here, and later searches do not try the filter for a day."""
    b = backend(fake, breaker_cooldown_seconds=60)
    b.add([item(), item(id="i2", text="postgres for the other database", project="/elsewhere")])
    fake.fail_with(400, {"detail": "Unsupported filter operator: nin"}, times=1, match="/search")
    found = b.search("postgres database", project="/repo", limit=5)
    assert [m.text for m in found] == ["We use postgres for the database"]
    first, second = fake.requests_to("/search")[-2:]
    assert "NOT" in first.body["filters"] and second.body["filters"] == {"user_id": "alice"}
    assert second.body["top_k"] >= 15  # over-fetched, as the project is filtered here
    b.search("postgres database", project="/repo", limit=5)
    assert fake.last("/search").body["filters"] == {"user_id": "alice"}
    assert not breaker.is_open("server")  # the store itself is fine


@pytest.mark.parametrize(
    "body",
    [{"results": 5}, {"results": "none"}, [1, 2, 3], {"results": [None, {"memory": "no id"}, {"id": 7}]}],
)
def test_a_garbled_search_answer_is_unavailable_or_empty(fake, body):
    b = backend(fake, for_recall=True)
    fake.fail_with(200, body, match="/search")
    try:
        found = b.search("postgres database", project="/repo", limit=5)
    except BackendUnavailable as exc:
        assert "unexpected body" in str(exc)
    else:
        assert all(isinstance(m.text, str) for m in found)
