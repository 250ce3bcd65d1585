"""The hybrid store's recall (``ranking.fusion``): the local index fused with a remote store's search.

Unit tests on ``resolve`` and ``credits``, then the whole recall (``recall.for_prompt``) against the fake
mem0 server: turns held here come with their neighbours and are never shown twice, remote-only memories
(another machine's) join them on the local scale, weak remote matches are cut, and a remote store that
is slow, garbled or down leaves the local half within the deadline and one line in the log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mem0_hooks import breaker, recall
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.backends.local import LocalStore
from mem0_hooks.ranking import fusion
from tests.support.fake_mem0 import FakeServer

PROJECT = "github.com/acme/shop"
SESSION = "laptop-session"
# A session captured on this machine: the answer (turn 4) shares no word with the question asked later.
TURNS = [
    ("user", "Let's set up the staging environment for the shop today"),
    ("assistant", "Sure. I created the staging namespace and the deploy job."),
    ("user", "Which database engine should staging run?"),
    ("assistant", "Aurora in the blue cluster, listening on port 6543, same as production minus replicas."),
    ("user", "Good, and the cache?"),
    ("assistant", "Redis with one node is plenty for staging."),
]


@pytest.fixture
def store(data_home: Path) -> Iterator[LocalStore]:
    local = recall.local_store()
    local.add(
        [
            MemoryItem(
                id=f"t{n}",
                text=text,
                role=role,
                created_at=f"2026-03-01T10:0{n}:00Z",
                session_id=SESSION,
                project=PROJECT,
                seq=n + 1,
            )
            for n, (role, text) in enumerate(TURNS)
        ]
    )
    yield local


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def remote_copy(fake: FakeServer, n: int) -> str:
    """The remote store's copy of local turn ``n``, as the flusher sends it."""
    role, text = TURNS[n]
    return fake.seed(
        text,
        user_id="alice",
        run_id=SESSION,
        role=role,
        metadata={"project": PROJECT, "scope": "project", "mem0_hooks_id": f"t{n}", "seq": n + 1},
    )


def elsewhere(fake: FakeServer, text: str, *, session: str = "desktop-session", role: str = "user") -> str:
    """A memory captured on another machine (not in this machine's local index)."""
    return fake.seed(
        text,
        user_id="alice",
        run_id=session,
        role=role,
        metadata={
            "project": PROJECT,
            "scope": "project",
            "mem0_hooks_id": f"other-{abs(hash(text))}",
            "created_at": "2026-03-05T09:00:00Z",
        },
    )


def hybrid_config(fake: FakeServer, **mem0: object) -> dict:
    config = fake.config(mem0={"infer": False, "breaker_cooldown_seconds": 30, **mem0})
    config["memory"]["semantic"] = False  # words only here: the model is not loaded in tests
    return config


def hit(memory_id: str, text: str, score: float, **md: object) -> Memory:
    return Memory(id=memory_id, text=text, score=score, project=PROJECT, metadata=dict(md))


# -- resolve and credits ------------------------------------------------------------------------------
def test_credits_fall_with_the_score_and_the_rank() -> None:
    hits = [hit(str(i), f"t{i}", s) for i, s in enumerate([0.8, 0.8, 0.4, 0.2])]
    got = fusion.credits(hits)
    assert got[0] == 1.0 and got[0] > got[1] > got[2] > got[3] > 0
    assert fusion.credits([hit("a", "x", None), hit("b", "y", None)])[0] == 1.0  # type: ignore[arg-type]


def test_resolve_matches_by_our_id_then_by_text_and_keeps_each_memory_once(store: LocalStore) -> None:
    hits = [
        hit("r1", TURNS[3][1], 0.9, mem0_hooks_id="t3"),  # the turn, by our id
        hit("r2", "  " + TURNS[2][1].upper() + " ", 0.8),  # the turn, by its text (OpenMemory: no metadata)
        hit("r3", TURNS[3][1], 0.7),  # the server does not deduplicate: the same text again
        hit("r4", "Staging uses Aurora on port 6543", 0.6, mem0_hooks_id="t3"),  # a fact Mem0 made of t3
        hit("r5", "The desktop machine knows the VPN host", 0.5),  # only there
    ]
    remote = fusion.resolve(store, hits, project=PROJECT)
    held = {store.rows_by_id(["t3"])["t3"][0]: "t3", store.rows_by_id(["t2"])["t2"][0]: "t2"}
    assert {held[r] for r in remote.rows} == {"t2", "t3"} and [held[r] for r in remote.ranked] == ["t3", "t2"]
    assert [m.id for _, m in remote.only] == ["r4", "r5"]


def test_resolve_leaves_out_this_session_what_was_injected_and_what_cannot_be_placed(store: LocalStore) -> None:
    hits = [
        Memory(id="a", text="said in this very session", session_id="now", score=0.9),
        Memory(id="b", text="already in the context", score=0.8),
        Memory(id="c", text="carries an injected id of ours", score=0.8, metadata={"mem0_hooks_id": "seen"}),
        Memory(id="d", text="an OpenMemory hit of unknown project", scope="unknown", score=0.7),
        Memory(id="e", text="another project's turn with these words", score=0.6),
    ]
    remote = fusion.resolve(store, hits, project=PROJECT, skip_session="now", skip_ids={"b", "seen"})
    assert [m.id for _, m in remote.only] == ["e"] and not remote.rows


# -- recall through the hybrid store ------------------------------------------------------------------
def test_a_turn_held_here_comes_with_its_exchange_and_once(store: LocalStore, fake: FakeServer) -> None:
    for n in range(len(TURNS)):
        remote_copy(fake, n)
    config = hybrid_config(fake)
    block, ids = recall.for_prompt(
        "which database engine does staging run", session_id="new", project=PROJECT, config=config, state={}
    )
    assert "port 6543" in block and "Which database engine" in block  # the question and its answer
    assert block.count("port 6543") == 1 and len(ids) == len(set(ids))
    assert set(ids) <= {f"t{n}" for n in range(len(TURNS))}  # shown from the local index, under our ids
    search = fake.last("/search").body
    assert search["filters"]["user_id"] == "alice" and "NOT" in search["filters"]  # filtered by the server


def test_a_memory_from_another_machine_joins_the_local_turns(store: LocalStore, fake: FakeServer) -> None:
    for n in range(len(TURNS)):
        remote_copy(fake, n)
    other = elsewhere(fake, "On the desktop we moved the staging database to port 7777 for the migration")
    config = hybrid_config(fake)
    block, ids = recall.for_prompt(
        "which port does the staging database use", session_id="new", project=PROJECT, config=config, state={}
    )
    assert "port 7777" in block and "port 6543" in block
    assert other in ids and "t3" in ids
    # asked again in the same session: both were injected, neither comes back
    again, _ = recall.for_prompt(
        "which port does the staging database use",
        session_id="new",
        project=PROJECT,
        config=config,
        state={"injected": ids},
    )
    assert "7777" not in again and "6543" not in again


def test_weak_remote_matches_are_cut_as_weak_local_ones(fake: FakeServer, data_home: Path) -> None:
    """No local index for the project (a second machine): the remote's own ranking, cut and packed."""
    config = hybrid_config(fake)
    elsewhere(fake, "The staging database listens on port 6543 in the blue cluster")
    for n in range(12):
        elsewhere(fake, f"unrelated note {n} about the cluster", session=f"s{n}")
    block, ids = recall.for_prompt(
        "which port does the staging database listen on", session_id="new", project=PROJECT, config=config, state={}
    )
    assert "6543" in block and len(ids) < 6  # the one-word matches fall under the relevance cut
    assert block.count("6543") == 1


def test_a_budget_is_filled_not_stopped_at_sixteen_turns(fake: FakeServer, data_home: Path) -> None:
    """Another machine's exchanges: questions and answers found there read as exchanges (by their turn
    numbers), so the block fills its budget, not 16 single turns."""
    config = hybrid_config(fake)
    config["memory"]["min_relevance"] = 0.0
    for n in range(30):
        for seq, role in ((1, "user"), (2, "assistant")):
            fake.seed(
                f"staging database fact {n}.{seq}: " + "detail " * 12,
                user_id="alice",
                run_id=f"s{n}",
                role=role,
                metadata={"project": PROJECT, "scope": "project", "mem0_hooks_id": f"o{n}.{seq}", "seq": seq},
            )
    block, ids = recall.for_prompt("staging database facts", session_id="new", project=PROJECT, config=config, state={})
    assert len(ids) > 16 and block.count("[") <= config["memory"]["max_context_memories"] + 1
    assert len(block) <= config["memory"]["context_budget_chars"]


# -- faults: the local half, within the deadline, one line in the log -----------------------------------
def _log(data_home: Path) -> str:
    path = data_home / "mem0-hooks.log"
    return path.read_text() if path.exists() else ""


@pytest.mark.parametrize(
    "fault",
    ["slow", "garbled-json", "not-json", "wrong-shape", "error-500", "down"],
)
def test_a_failing_remote_leaves_the_local_half(
    store: LocalStore, fake: FakeServer, data_home: Path, fault: str
) -> None:
    config = hybrid_config(fake, recall_timeout_seconds=0.5)
    for n in range(len(TURNS)):
        remote_copy(fake, n)
    if fault == "slow":
        fake.delay(5.0, match="/search")
    elif fault == "garbled-json":
        fake.fail_with(200, {"results": [{"id": "x", "memory": 42, "score": "high"}, "junk", None]}, match="/search")
    elif fault == "not-json":
        fake.fail_with(200, b"<html>proxy login</html>", match="/search")
    elif fault == "wrong-shape":
        fake.fail_with(200, {"results": {"oops": True}}, match="/search")
    elif fault == "error-500":
        fake.fail_with(500, {"detail": "boom"}, match="/search")
    else:
        fake.down()
    started = time.monotonic()
    block, ids = recall.for_prompt(
        "which database engine does staging run", session_id="new", project=PROJECT, config=config, state={}
    )
    took = time.monotonic() - started
    assert "port 6543" in block and len(ids) == len(set(ids))
    assert took < 0.5 + fusion.WAIT_GRACE + 0.5, took
    warnings = [line for line in _log(data_home).splitlines() if "recalled from the local index alone" in line]
    if fault == "garbled-json":
        assert len(warnings) <= 1  # a garbled hit is left out; the rest of the answer may be usable
    else:
        assert len(warnings) == 1, _log(data_home)
        assert breaker.is_open("server")  # later prompts skip the network for the cooldown


def test_with_the_breaker_open_no_request_is_made_and_local_recall_works(
    store: LocalStore, fake: FakeServer, data_home: Path
) -> None:
    config = hybrid_config(fake)
    breaker.record_failure("server", "down a moment ago", 60)
    before = len(fake.requests)
    block, _ = recall.for_prompt(
        "which database engine does staging run", session_id="new", project=PROJECT, config=config, state={}
    )
    assert "port 6543" in block and len(fake.requests) == before
    assert "recalled from the local index alone" not in _log(data_home)  # nothing was tried: nothing to say


def test_fallback_skip_injects_nothing_while_the_remote_is_down(
    store: LocalStore, fake: FakeServer, data_home: Path
) -> None:
    config = hybrid_config(fake)
    config["claude_code"]["fallback_mode"] = "skip"
    fake.down()
    with pytest.raises(Exception, match="connection refused|cannot connect"):
        recall.for_prompt(
            "which database engine does staging run", session_id="new", project=PROJECT, config=config, state={}
        )
    block, _ = recall.for_prompt(
        "which database engine does staging run", session_id="new", project=PROJECT, config=config, state={}
    )
    assert block == ""  # the breaker is open now: nothing asked, nothing injected


def test_without_the_local_index_recall_is_the_remote_alone(fake: FakeServer, data_home: Path) -> None:
    config = hybrid_config(fake, local_index=False)
    elsewhere(fake, "The staging database listens on port 6543")
    block, ids = recall.for_prompt(
        "which port does the staging database listen on", session_id="new", project=PROJECT, config=config, state={}
    )
    assert "6543" in block and ids
    assert not (data_home / "memories.sqlite3").exists()


def test_a_damaged_local_index_leaves_the_remote_half(fake: FakeServer, data_home: Path) -> None:
    config = hybrid_config(fake)
    elsewhere(fake, "The staging database listens on port 6543")
    (data_home / "memories.sqlite3").write_bytes(b"this is not a database" * 100)
    block, _ = recall.for_prompt(
        "which port does the staging database listen on", session_id="new", project=PROJECT, config=config, state={}
    )
    assert "6543" in block
    assert "the local index failed" in _log(data_home)
