"""PlatformBackend against FakePlatform: a real HTTP server speaking the Platform contract (spec A1)."""

from __future__ import annotations

import email.utils
import time

import pytest

from mem0_hooks import breaker
from mem0_hooks.backends import open_backend
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.platform import PlatformBackend
from mem0_hooks.errors import BackendError, BackendRejected, BackendUnavailable
from tests.support.fake_mem0 import FakePlatform

KEY = "m0-secret-key-0123456789"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEM0_API_KEY", raising=False)


@pytest.fixture
def fake():
    with FakePlatform(api_key=KEY) as server:
        yield server


def item(id="i1", text="We use postgres for the database", role="user", session="sess-1", project="/repo", **kw):
    return MemoryItem(
        id=id, text=text, role=role, created_at="2026-03-01T10:00:00Z", session_id=session, project=project, **kw
    )


def backend(fake, **mem0):
    return PlatformBackend(fake.config(mem0=mem0))


def test_open_backend_builds_it(fake):
    assert isinstance(open_backend(fake.config(), for_recall=True), PlatformBackend)


def test_add_sends_identity_metadata_and_the_token_header(fake):
    b = PlatformBackend(fake.config(mem0={"infer": False}, privacy={"auto_delete_after_days": 30}))
    b.add([item(), item(id="i2", text="a note", role="note", session="", scope="user", project="")])
    first, second = fake.requests_to("/v1/memories/", "POST")
    assert first.headers["authorization"] == f"Token {KEY}"
    body = first.body
    assert body["messages"] == [{"role": "user", "content": "We use postgres for the database"}]
    assert (body["user_id"], body["agent_id"], body["run_id"]) == ("alice", "claude-code", "sess-1")
    assert body["infer"] is False
    assert body["timestamp"] == 1772359200  # 2026-03-01T10:00:00Z
    assert body["expiration_date"] == "2026-03-31"
    md = body["metadata"]
    assert md["project"] == "/repo" and md["role"] == "user" and md["mem0_hooks_id"] == "i1"
    assert md["created_at"] == "2026-03-01T10:00:00Z" and md["scope"] == "project"
    assert "org_id" not in body and "project_id" not in body
    assert second.body["messages"][0]["role"] == "user"  # a note is the user's
    assert "run_id" not in second.body  # no session, no run


def test_org_and_project_are_sent_when_set(fake):
    b = backend(fake, org_id="org-9", project_id="proj-9")
    b.add([item()])
    b.search("database", project="/repo", limit=3)
    assert fake.last("/v1/memories/", "POST").body["org_id"] == "org-9"
    assert fake.last("/v2/memories/search/").body["project_id"] == "proj-9"


def test_round_trip_add_search_list_delete(fake):
    b = backend(fake)
    b.add(
        [
            item(),
            item(id="i2", text="The other project uses mysql database", project="/elsewhere"),
            item(id="i3", text="Alice likes short database names", role="note", session="", project="", scope="user"),
        ]
    )
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
    assert {m.text for m in b.list()} == {m["memory"] for m in fake.memories.values()}
    assert [m.text for m in b.list(project="/elsewhere")] == ["The other project uses mysql database"]
    assert b.count() == 3
    assert b.delete(top.id) is True
    assert b.delete(top.id) is False
    assert top.id not in fake.memories


def test_search_body_uses_only_documented_filter_fields(fake):
    b = backend(fake)
    b.search("database", project="/repo", limit=4)
    body = fake.last("/v2/memories/search/").body
    assert body["query"] == "database" and body["top_k"] >= 4
    assert body["filters"] == {
        "OR": [
            {"user_id": "alice"},
            {"AND": [{"user_id": "alice"}, {"run_id": "*"}]},
            {"AND": [{"agent_id": "claude-code"}, {"run_id": "*"}]},
        ]
    }
    assert "metadata" not in str(body["filters"])  # not a v2 filter field: the project is filtered here


def test_strict_entity_scoping_still_finds_user_and_assistant_memories(fake):
    fake.strict_entities = True  # issue-thread behaviour: one tag per message, unnamed ids must be null
    b = backend(fake)
    b.add([item(), item(id="i2", text="I set up the postgres database migrations", role="assistant")])
    fake.seed(
        "bob's postgres database secret",
        user_id=None,
        agent_id="claude-code",
        run_id="other",
        metadata={"user_id": "bob", "mem0_hooks_id": "x"},
    )
    texts = {m.text for m in b.search("postgres database", project="/repo", limit=10)}
    assert texts == {"We use postgres for the database", "I set up the postgres database migrations"}


def test_pending_add_is_success_and_already_stored_sees_it_once_processed(fake):
    fake.process_adds = False
    b = backend(fake)
    b.add([item()])  # 200 with a PENDING event
    assert fake.memories == {}
    assert PlatformBackend(fake.config()).already_stored("i1") is False
    fake.process_pending()
    fresh = PlatformBackend(fake.config())
    assert fresh.already_stored("i1") is True
    assert fresh.already_stored("i1", session_id="sess-1") is True
    assert fresh.already_stored("other") is False


def test_add_accepts_the_bare_array_answer(fake):
    fake.fail_with(200, [{"message": "queued", "status": "PENDING", "event_id": "e1"}])
    backend(fake).add([item()])


def test_partial_add_failure_lists_items_sent_before_it(fake):
    b = backend(fake)
    calls = {"n": 0}
    original = b._add_one

    def flaky(it):
        calls["n"] += 1
        if calls["n"] == 3:
            fake.fail_with(500, {"detail": "boom"})
        original(it)

    b._add_one = flaky
    with pytest.raises(BackendUnavailable) as caught:
        b.add([item(id="a"), item(id="b"), item(id="c"), item(id="d")])
    assert caught.value.delivered_ids == ["a", "b"]


def test_delete_all_touches_only_memories_mem0_hooks_wrote(fake):
    b = backend(fake)
    b.add([item(id="a"), item(id="b", project="/other")])
    foreign = fake.seed("written by another app", user_id="alice")
    assert b.delete_all(project="/repo") == 1
    assert b.delete_all() == 1
    assert list(fake.memories) == [foreign]
    assert fake.requests_to("/v1/batch/", "DELETE")


def test_recent_is_newest_first_and_in_scope(fake):
    b = backend(fake)
    b.add(
        [
            MemoryItem(
                id="1", text="old", role="user", created_at="2026-01-01T00:00:00Z", session_id="s", project="/repo"
            ),
            MemoryItem(
                id="2", text="new", role="user", created_at="2026-02-01T00:00:00Z", session_id="s", project="/repo"
            ),
            MemoryItem(
                id="3", text="elsewhere", role="user", created_at="2026-03-01T00:00:00Z", session_id="s", project="/x"
            ),
        ]
    )
    assert [m.text for m in b.recent(project="/repo", limit=5)] == ["new", "old"]


def test_health_pings_with_the_key(fake):
    text = backend(fake).health()
    assert "API key accepted" in text and "org_test" in text
    assert fake.last("/v1/ping/").headers["authorization"] == f"Token {KEY}"


# -- keys and auth ---------------------------------------------------------------------------------
def test_missing_key_is_rejected_naming_the_variable(fake):
    with pytest.raises(BackendRejected) as caught:
        PlatformBackend(fake.config(mem0={"api_key": None}))
    assert "MEM0_API_KEY" in str(caught.value)


def test_key_from_the_environment_wins(fake, monkeypatch):
    monkeypatch.setenv("MEM0_API_KEY", KEY)
    PlatformBackend(fake.config(mem0={"api_key": "wrong"})).health()


def test_wrong_key_is_rejected_with_a_hint_and_never_shown(fake):
    b = backend(fake, api_key="m0-wrong-key-abcdef")
    with pytest.raises(BackendRejected) as caught:
        b.health()
    err = caught.value
    assert err.status == 401 and "Invalid API key" in (err.server_message or "")
    assert "MEM0_API_KEY" in str(err)
    assert "m0-wrong-key-abcdef" not in str(err) + repr(err) + repr(b)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503])
def test_the_key_never_appears_even_when_the_server_echoes_it(fake, status):
    fake.fail_with(status, {"detail": f"bad key {KEY} here", "error": KEY})
    with pytest.raises(BackendError) as caught:
        backend(fake).search("database", project="/repo", limit=3)
    err = caught.value
    everything = " ".join(str(x) for x in (err, repr(err), err.server_message, err.hint, err.args))
    assert KEY not in everything and "[redacted]" in everything


# -- error mapping ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "kind", "words"),
    [
        (
            400,
            {"error": "400 Bad Request", "details": {"message": "Invalid input data. See quickstart"}},
            BackendRejected,
            "Invalid input data",
        ),
        (
            400,
            {"message": "At least one of the filters: agent_id, user_id, app_id, run_id is required!"},
            BackendRejected,
            "At least one of the filters",
        ),
        (
            400,
            ["One of the filters: app_id, user_id, agent_id, run_id is required!"],
            BackendRejected,
            "One of the filters",
        ),
        (403, {"detail": "You do not have permission"}, BackendRejected, "permission"),
        (404, {"error": "Memory not found!"}, BackendRejected, "Memory not found"),
        (409, {"detail": "conflict"}, BackendRejected, "conflict"),
        (413, {"detail": "Memory quota exceeded"}, BackendRejected, "quota"),
        (
            422,
            {"detail": [{"loc": ["body", "query"], "msg": "Field required"}]},
            BackendRejected,
            "query: Field required",
        ),
        (408, {"detail": "timeout"}, BackendUnavailable, "timed out"),
        (500, {"detail": "internal"}, BackendUnavailable, "internal"),
        (502, b"<html>bad gateway</html>", BackendUnavailable, "failed"),
        (503, {"detail": "maintenance"}, BackendUnavailable, "maintenance"),
        (504, None, BackendUnavailable, "failed"),
    ],
)
def test_statuses_map_to_the_right_error(fake, status, body, kind, words):
    fake.fail_with(status, body)
    with pytest.raises(BackendError) as caught:
        backend(fake).search("database", project="/repo", limit=3)
    err = caught.value
    assert type(err) is kind and err.status == status
    assert words in str(err)
    assert err.retryable is (kind is BackendUnavailable)


def test_429_retry_after_seconds(fake):
    fake.fail_with(429, {"detail": "Rate limit exceeded"}, {"Retry-After": "42"})
    with pytest.raises(BackendUnavailable) as caught:
        backend(fake).add([item()])
    assert caught.value.retry_after == 42 and caught.value.status == 429


def test_429_retry_after_http_date(fake):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    fake.fail_with(429, {"detail": "Rate limit exceeded"}, {"Retry-After": when})
    with pytest.raises(BackendUnavailable) as caught:
        backend(fake).add([item()])
    assert 100 < caught.value.retry_after <= 121


def test_redirect_is_not_followed(fake):
    fake.fail_with(301, None, {"Location": "https://api.mem0.ai/v1/ping/"})
    with pytest.raises(BackendRejected, match="redirected"):
        backend(fake).health()


def test_down_server_is_unavailable_with_plain_words(fake):
    b = backend(fake)
    fake.down()
    with pytest.raises(BackendUnavailable) as caught:
        b.add([item()])
    assert "connection refused" in str(caught.value) and "check the network" in str(caught.value)
    fake.up()
    b.add([item()])


def test_unresolvable_host_is_unavailable(fake):
    b = backend(fake, base_url="http://no-such-host.invalid")
    with pytest.raises(BackendUnavailable, match="cannot resolve|cannot connect"):
        b.health()


# -- deadlines and the breaker ---------------------------------------------------------------------
def test_recall_is_bounded_by_recall_timeout(fake):
    fake.delay(5.0, match="/search")
    b = PlatformBackend(fake.config(mem0={"recall_timeout_seconds": 0.5}), for_recall=True)
    start = time.monotonic()
    with pytest.raises(BackendUnavailable, match="did not answer"):
        b.search("database", project="/repo", limit=3)
    assert time.monotonic() - start < 2.0


def test_search_respects_an_explicit_deadline(fake):
    fake.delay(5.0, match="/search")
    b = PlatformBackend(fake.config(mem0={"recall_timeout_seconds": 10}), for_recall=True)
    start = time.monotonic()
    with pytest.raises(BackendUnavailable):
        b.search("database", project="/repo", limit=3, deadline=time.monotonic() + 0.3)
    assert time.monotonic() - start < 1.8


def test_breaker_opens_on_failure_skips_the_network_then_closes(fake, monkeypatch):
    b = PlatformBackend(fake.config(mem0={"breaker_cooldown_seconds": 30}), for_recall=True)
    fake.fail_with(503, {"detail": "down for maintenance"})
    with pytest.raises(BackendUnavailable):
        b.search("database", project="/repo", limit=3)
    assert breaker.is_open("platform")
    sent = len(fake.requests)
    with pytest.raises(BackendUnavailable, match="skipped"):
        b.search("database", project="/repo", limit=3)
    assert len(fake.requests) == sent  # no network while open
    later = time.time() + 31
    monkeypatch.setattr(breaker.time, "time", lambda: later)
    assert b.search("database", project="/repo", limit=3) == []
    assert not breaker.is_open("platform") and breaker.status("platform")["failures"] == 0


def test_breaker_honours_a_longer_retry_after(fake):
    b = PlatformBackend(fake.config(mem0={"breaker_cooldown_seconds": 5}), for_recall=True)
    fake.fail_with(429, {"detail": "slow down"}, {"Retry-After": "600"})
    with pytest.raises(BackendUnavailable):
        b.search("database", project="/repo", limit=3)
    assert breaker.status("platform")["seconds_left"] > 500


def test_a_bad_key_opens_the_breaker_for_recall(fake):
    b = PlatformBackend(fake.config(mem0={"api_key": "m0-bad-key-xyz"}), for_recall=True)
    with pytest.raises(BackendRejected):
        b.search("database", project="/repo", limit=3)
    assert breaker.is_open("platform")


def test_writes_do_not_check_the_breaker_but_close_it(fake):
    breaker.record_failure("platform", "earlier outage", 600)
    backend(fake).add([item()])
    assert not breaker.is_open("platform")


def test_recent_reads_at_most_two_pages_under_the_recall_deadline(fake):
    for n in range(250):
        fake.seed(f"memory {n}", user_id="alice", run_id="s", metadata={"project": "/repo", "user_id": "alice"})
    b = PlatformBackend(fake.config(), for_recall=True)
    assert len(b.recent(project="/repo", limit=5)) == 5
    assert len(fake.requests_to("/v2/memories/", "POST")) == 2
