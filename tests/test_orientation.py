"""SessionStart's orientation (``orientation.for_session_start``): from the local index, and with a remote
store from its newest memories too, so that the last session in a project is the newest from whichever
machine, and what another machine or Mem0's own tools added is there; each memory once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mem0_hooks import orientation, recall
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.local import LocalStore
from tests.support.fake_mem0 import FakeServer

PROJECT = "github.com/acme/shop"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def config_for(fake: FakeServer, **mem0: object) -> dict:
    return fake.config(mem0={"infer": False, "breaker_cooldown_seconds": 30, **mem0})


def local_session(store: LocalStore, session: str, day: str, turns: list[tuple[str, str]], fake: FakeServer) -> None:
    """A session captured here, and its copy in the remote store (as the flusher leaves them)."""
    items = [
        MemoryItem(
            id=f"{session}-{n}",
            text=text,
            role=role,
            created_at=f"{day}T10:0{n}:00Z",
            session_id=session,
            project=PROJECT,
            seq=n + 1,
        )
        for n, (role, text) in enumerate(turns)
    ]
    store.add(items)
    for item in items:
        fake.seed(
            item.text,
            user_id="alice",
            run_id=session,
            role=item.role,
            metadata={
                "project": PROJECT,
                "scope": "project",
                "mem0_hooks_id": item.id,
                "seq": item.seq,
                "created_at": item.created_at,
            },
        )


def remote_session(fake: FakeServer, session: str, day: str, turns: list[tuple[str, str]]) -> None:
    """A session captured on another machine: only in the remote store."""
    for n, (role, text) in enumerate(turns):
        fake.seed(
            text,
            user_id="alice",
            run_id=session,
            role=role,
            metadata={
                "project": PROJECT,
                "scope": "project",
                "mem0_hooks_id": f"{session}-{n}",
                "seq": n + 1,
                "created_at": f"{day}T09:0{n}:00Z",
                "mem0_hooks_role": role,
            },
        )


def test_the_last_session_is_the_newest_from_whichever_machine(fake: FakeServer, data_home: Path) -> None:
    store = recall.local_store()
    local_session(
        store, "here", "2026-03-01", [("user", "fix the login bug"), ("assistant", "Fixed the login bug.")], fake
    )
    remote_session(
        fake, "there", "2026-03-04", [("user", "migrate billing to stripe"), ("assistant", "Billing now on Stripe.")]
    )
    fake.seed(
        "Always run the linter before committing",
        user_id="alice",
        metadata={
            "project": PROJECT,
            "scope": "project",
            "mem0_hooks_role": "note",
            "mem0_hooks_id": "n1",
            "created_at": "2026-02-01T00:00:00Z",
        },
    )
    block, ids = orientation.for_session_start(session_id="new", project=PROJECT, config=config_for(fake), state={})
    assert "Last session in this project (2026-03-04)" in block
    assert "migrate billing to stripe" in block and "Billing now on Stripe." in block
    assert "Notes you asked to remember" in block and "linter" in block
    assert "login bug" not in block  # an older session, and no "recent" section when there is a last one
    assert len(ids) == len(set(ids))


def test_this_machines_newer_session_wins_and_is_shown_once(fake: FakeServer, data_home: Path) -> None:
    store = recall.local_store()
    remote_session(fake, "there", "2026-03-01", [("user", "migrate billing to stripe")])
    local_session(
        store, "here", "2026-03-04", [("user", "fix the login bug"), ("assistant", "Fixed the login bug.")], fake
    )
    block, ids = orientation.for_session_start(session_id="new", project=PROJECT, config=config_for(fake), state={})
    assert "Last session in this project (2026-03-04)" in block
    assert block.count("fix the login bug") == 1 and "here-0" in ids  # from the local index, under our id


def test_the_remote_down_leaves_the_local_orientation(fake: FakeServer, data_home: Path) -> None:
    store = recall.local_store()
    local_session(store, "here", "2026-03-04", [("user", "fix the login bug")], fake)
    fake.down()
    block, _ = orientation.for_session_start(
        session_id="new", project=PROJECT, config=config_for(fake, recall_timeout_seconds=0.5), state={}
    )
    assert "fix the login bug" in block
    log = (data_home / "mem0-hooks.log").read_text()
    assert log.count("oriented from the local index alone") == 1


def test_a_second_machine_with_nothing_here_is_oriented_by_the_remote(fake: FakeServer, data_home: Path) -> None:
    remote_session(fake, "there", "2026-03-04", [("user", "migrate billing to stripe"), ("assistant", "Done.")])
    block, _ = orientation.for_session_start(session_id="new", project=PROJECT, config=config_for(fake), state={})
    assert "migrate billing to stripe" in block and "2026-03-04" in block
