"""Memories stored under a project's old path identity stay recalled once its identity is its remote.

Local store: moved to the new identity by the first hook that sees the directory (or by the flusher when
there are many). Remote stores: not rewritten; a search accepts the recorded old path identity.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from mem0_hooks import config, project, project_map
from mem0_hooks.backends.base import MemoryItem
from mem0_hooks.backends.local import LocalStore
from mem0_hooks.cli.main import main as cli
from tests.support.fake_mem0 import FakeServer
from tests.support.hooks import injected_context, prompt_event, run_hook

FACT = "The payments service retries webhooks with exponential backoff capped at 90 seconds"
QUESTION = "how does the payments service retry webhooks?"
IDENTITY = "github.com/acme/payments"


def git(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "payments"
    path.mkdir()
    git("init", "-q", cwd=path)
    return path


@pytest.fixture(autouse=True)
def fresh_process_state() -> None:
    """Each test is a new process as far as the module caches go."""
    project._CACHE.clear()
    project_map._SETTLED.clear()
    project_map._loaded = None


def old_memories(root: Path, count: int = 2, *, text: str = FACT) -> None:
    """Memories as the earlier version stored them: under the directory's path."""
    store = LocalStore()
    store.add(
        [
            MemoryItem(
                id=f"old{n}",
                text=text if n == 0 else f"Unrelated turn number {n} about lunch",
                role="user",
                created_at="2026-10-01T10:00:00Z",
                session_id="old-session",
                project=str(root),
                seq=n + 1,
            )
            for n in range(count)
        ]
    )
    store.close()


def projects_in_store(data_home: Path) -> dict[str, int]:
    with sqlite3.connect(data_home / "memories.sqlite3") as db:
        return dict(db.execute("SELECT project, count(*) FROM memories GROUP BY project").fetchall())


def test_old_path_memories_are_recalled_after_the_switch(data_home: Path, repo: Path) -> None:
    old_memories(repo)
    before = injected_context(run_hook("UserPromptSubmit", prompt_event("s1", repo, QUESTION)), "UserPromptSubmit")
    assert "90 seconds" in before
    assert projects_in_store(data_home) == {str(repo): 2}  # no remote yet: nothing to move
    git("remote", "add", "origin", "git@github.com:acme/payments.git", cwd=repo)
    after = injected_context(run_hook("UserPromptSubmit", prompt_event("s2", repo / "", QUESTION)), "UserPromptSubmit")
    assert "90 seconds" in after
    assert projects_in_store(data_home) == {IDENTITY: 2}
    recorded = json.loads((data_home / "state" / "projects.json").read_text())["projects"]
    assert recorded[str(repo)]["id"] == IDENTITY and recorded[str(repo)]["moved"] is True
    assert "git@" not in json.dumps(recorded)  # directories and identities only, no URL


def test_the_cli_moves_them_too(
    data_home: Path, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old_memories(repo)
    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    monkeypatch.chdir(repo)
    assert cli(["search", "payments webhooks backoff"]) == 0
    assert "90 seconds" in capsys.readouterr().out
    assert projects_in_store(data_home) == {IDENTITY: 2}


def test_session_start_sees_them_on_the_first_session(data_home: Path, repo: Path) -> None:
    old_memories(repo)
    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    event = {"session_id": "s9", "cwd": str(repo), "hook_event_name": "SessionStart", "source": "startup"}
    block = injected_context(run_hook("SessionStart", event), "SessionStart")
    assert "90 seconds" in block and f"Project: {IDENTITY}" in block


def test_the_search_index_follows_the_move(data_home: Path, repo: Path) -> None:
    old_memories(repo, 5)
    store = LocalStore()
    assert store.rename_project(str(repo), IDENTITY, at_most=4) is None  # too many: nothing moved
    assert projects_in_store(data_home) == {str(repo): 5}
    assert store.rename_project(str(repo), IDENTITY) == 5
    assert [m.id for m in store.search(QUESTION, project=IDENTITY, limit=5)][:1] == ["old0"]
    assert store.search(QUESTION, project=str(repo), limit=5) == []
    assert store.rename_project(str(repo), IDENTITY) == 0


def test_a_big_project_is_moved_by_the_flusher(data_home: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_memories(repo, 12)
    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    monkeypatch.setattr(project_map, "INLINE_ROWS", 10)
    spawned: list[bool] = []
    monkeypatch.setattr("mem0_hooks.flush.spawn", lambda: spawned.append(True))
    project_map.settle(project.locate(str(repo)), config.load())
    assert spawned and projects_in_store(data_home) == {str(repo): 12}
    record = project_map.records()[str(repo)]
    assert (record["id"], record["moved"]) == (IDENTITY, False)
    # what the flusher does when it starts (and after each drain)
    from mem0_hooks.flush import move_projects

    move_projects(LocalStore())
    assert projects_in_store(data_home) == {IDENTITY: 12}
    assert project_map.records()[str(repo)]["moved"] is True


def test_items_queued_under_the_path_are_moved_after_delivery(data_home: Path, repo: Path) -> None:
    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    project_map.settle(project.locate(str(repo)), config.load())
    old_memories(repo, 3)  # delivered after the switch: captured by the earlier version
    assert project_map.move_local(LocalStore()) == 3
    assert projects_in_store(data_home) == {IDENTITY: 3}


def test_a_changed_remote_moves_nothing(data_home: Path, repo: Path) -> None:
    """Only a path identity moves: another checkout of the old remote keeps its memories."""
    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    project_map.settle(project.locate(str(repo)), config.load())
    store = LocalStore()
    store.add([MemoryItem(id="u1", text=FACT, role="user", created_at="2026-11-01T00:00:00Z", project=IDENTITY)])
    git("remote", "set-url", "origin", "https://github.com/acme/payments-v2", cwd=repo)
    project_map._SETTLED.clear()
    project_map.settle(project.locate(str(repo)), config.load())
    assert projects_in_store(data_home) == {IDENTITY: 1}
    assert project_map.records()[str(repo)]["id"] == "github.com/acme/payments-v2"


def test_identities_and_gone_directories(data_home: Path, repo: Path, tmp_path: Path) -> None:
    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    other = tmp_path / "checkout-two"
    other.mkdir()
    git("init", "-q", cwd=other)
    git("remote", "add", "origin", "git@github.com:acme/payments.git", cwd=other)
    for where in (repo, other):
        project_map.settle(project.locate(str(where)), config.load())
    assert project_map.identities(IDENTITY) == {IDENTITY, str(repo), str(other)}
    assert project_map.aliases(IDENTITY) == sorted([str(repo), str(other)])
    assert project_map.identities(str(repo)) == {str(repo)}  # a path identity has no aliases
    assert project_map.recorded_for(str(repo / "a" / "b")) == (str(repo), IDENTITY)
    assert project_map.recorded_for(str(tmp_path / "elsewhere")) is None
    plain = tmp_path / "no-remote"
    plain.mkdir()
    project_map.settle(project.locate(str(plain)), config.load())
    assert str(plain) not in project_map.records()  # identified by its path: nothing recorded


def test_an_unwritable_record_does_not_cost_recall(data_home: Path, repo: Path) -> None:
    old_memories(repo)
    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    (data_home / "state" / "projects.json").mkdir(parents=True)  # unreadable and unwritable (even for root)
    proc = run_hook("UserPromptSubmit", prompt_event("s1", repo, QUESTION))
    assert proc.returncode == 0
    assert "90 seconds" in injected_context(proc, "UserPromptSubmit")  # moved; only the record failed


# -- remote stores: aliased, not rewritten ----------------------------------------------------------------
def test_a_remote_store_finds_memories_under_the_old_path(
    data_home: Path, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeServer() as fake:
        cfg = {
            "backend": "server",
            "user_id": "alice",
            "privacy": {"consent_given": True},
            "mem0": {"base_url": fake.base_url, "infer": False},
            "memory": {"recall_on_session_start": False},
        }
        (data_home / "config.yaml").write_text(yaml.safe_dump(cfg))
        monkeypatch.setenv("MEM0_API_KEY", fake.default_key or "")
        meta = {"project": str(repo), "scope": "project", "role": "user", "mem0_hooks_id": "x1", "user_id": "alice"}
        fake.seed(FACT, user_id="alice", metadata=meta)
        git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
        context = injected_context(run_hook("UserPromptSubmit", prompt_event("s1", repo, QUESTION)), "UserPromptSubmit")
        assert "90 seconds" in context
        assert fake.memories and all(m["metadata"]["project"] == str(repo) for m in fake.memories.values())
        # the CLI sees them too, and says what identifies the project
        monkeypatch.chdir(repo)
        capsys.readouterr()
        assert cli(["list"]) == 0
        assert "90 seconds" in capsys.readouterr().out
        assert cli(["status", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)["project"]
        assert info["id"] == IDENTITY and info["how"] == "remote" and info["old_identities"] == [str(repo)]
        cli(["doctor"])
        out = capsys.readouterr().out
        assert f"[ok  ] project      this project is {IDENTITY} (git remote 'origin'" in out


def test_status_for_a_directory_without_remote(
    data_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "notes"
    plain.mkdir()
    monkeypatch.chdir(plain)
    assert cli(["status"]) == 0
    out = capsys.readouterr().out
    assert f"project       {plain} (its path: no git remote that names a host)" in out


def test_pause_is_about_the_directory(data_home: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mem0_hooks import gates

    git("remote", "add", "origin", "https://github.com/acme/payments", cwd=repo)
    monkeypatch.chdir(repo)
    assert cli(["pause", "--project"]) == 0
    assert gates.read_pauses()["projects"] == [str(repo)]
    cfg = config.load()
    assert not gates.may_capture(cfg, project.locate(str(repo)))
    assert gates.may_recall(cfg, project.locate(str(repo)))
