"""One memory across machines, end to end with the real Claude Code CLI and a fake mem0 server.

Two data dirs stand for two machines, installed against one mem0 server with one user id. The same
repository is checked out on each, at different paths and with its remote spelt differently (one with
credentials in the URL). A fact said in a session on the first must reach the model in a new session
on the second; a checkout of another repository must not see it, and the credentials reach nothing.
On the second machine the block fuses what only the server has (the first machine's fact) with what
the second machine's own local index holds (a fact said there), each once.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.claude_cli import hook_events, python_hook_command, run_claude, write_user_settings
from tests.support.fake_mem0 import FakeServer
from tests.support.hooks import HOOK_FILES, HOOKS_DIR
from tests.support.mock_anthropic import MockAnthropic

pytestmark = pytest.mark.e2e

FACT = "Our staging database is called aurora-blue and listens on port 6543."
QUESTION = "Which port does the staging database listen on?"
LOCAL_FACT = "The staging database's read replica on this desktop is called kestrel-green."
BOTH = "Which names do the staging database and its read replica have?"
SECRET = "ghp_S3cretT0kenNotForTheStore"


def _hooks_block() -> dict:
    block = {}
    for event in ("SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"):
        handler = {"type": "command", "command": python_hook_command(HOOKS_DIR / HOOK_FILES[event]), "timeout": 10}
        block[event] = [{"hooks": [handler]}]
    return block


def _checkout(path: Path, url: str) -> Path:
    path.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", "init", "-q"], cwd=path, env=env, check=True)
    subprocess.run(["git", "remote", "add", "origin", url], cwd=path, env=env, check=True)
    return path


def _machine(root: Path, fake: FakeServer) -> tuple[Path, dict[str, str]]:
    """A HOME with our hooks in Claude Code's settings, and a data dir configured for the server."""
    home, data = root / "home", root / "data"
    write_user_settings(home, _hooks_block())
    data.mkdir(parents=True, mode=0o700)
    config = {
        "backend": "server",
        "user_id": "alice",
        "privacy": {"consent_given": True},
        "mem0": {"base_url": fake.base_url, "infer": False},
    }
    (data / "config.yaml").write_text(yaml.safe_dump(config))
    return home, {"MEM0_HOOKS_HOME": str(data), "MEM0_API_KEY": fake.default_key or ""}


def _wait_for(fake: FakeServer, text: str, timeout: float = 30.0) -> bool:
    """The detached flusher delivers outside the CLI run: poll the fake (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in json.dumps(m) for m in list(fake.memories.values())):
            return True
        time.sleep(0.1)
    return False


def test_a_fact_said_on_one_machine_reaches_the_model_on_the_other(tmp_path: Path) -> None:
    with FakeServer() as fake, MockAnthropic(reply="Noted: aurora-blue on port 6543.") as api:
        home_a, env_a = _machine(tmp_path / "laptop", fake)
        home_b, env_b = _machine(tmp_path / "desktop", fake)
        repo_a = _checkout(tmp_path / "laptop" / "src" / "shop", f"https://alice:{SECRET}@github.com/Acme/Shop.git")
        repo_b = _checkout(tmp_path / "desktop" / "work" / "shop-checkout", "git@github.com:acme/shop.git")
        other = _checkout(tmp_path / "desktop" / "work" / "other", "git@github.com:acme/other.git")

        first = run_claude(FACT, home=home_a, cwd=repo_a, api=api, env=env_a)
        assert first.returncode == 0, first.stderr
        assert _wait_for(fake, "aurora-blue"), f"the fact never reached the server; log: {_log(env_a)}"
        api.reply = "Noted."  # later replies must not repeat the fact (they are captured too)

        api.requests.clear()
        api.raw_bodies.clear()
        second = run_claude(QUESTION, home=home_b, cwd=repo_b, api=api, env=env_b)
        assert second.returncode == 0, second.stderr
        body = api.raw_text()
        assert "aurora-blue" in body and "6543" in body, f"log: {_log(env_b)}"
        assert "recalled-memories" in body

        api.raw_bodies.clear()
        third = run_claude(QUESTION, home=home_b, cwd=other, api=api, env=env_b)
        assert third.returncode == 0, third.stderr
        assert "aurora-blue" not in api.raw_text()

        # the second machine says something of its own, then asks about both
        own = run_claude(LOCAL_FACT, home=home_b, cwd=repo_b, api=api, env=env_b)
        assert own.returncode == 0, own.stderr
        assert _wait_for(fake, "kestrel-green"), f"log: {_log(env_b)}"
        api.raw_bodies.clear()
        # (SessionStart off for this run: it would show that last session, and the prompt's block leaves
        # out what the session already has)
        quiet_start = {**env_b, "MEM0_HOOKS_MEMORY_RECALL_ON_SESSION_START": "false"}
        fused = run_claude(BOTH, home=home_b, cwd=repo_b, api=api, env=quiet_start)
        assert fused.returncode == 0, fused.stderr
        block = _injected(fused.stdout, "UserPromptSubmit")
        assert block.count(FACT) == 1, block  # only in the server: the remote half (with its reply, read around it)
        assert block.count(LOCAL_FACT) == 1, block  # in this machine's local index (and the server): once
        local = _local_texts(env_b)
        assert any("kestrel-green" in t for t in local) and not any("aurora-blue" in t for t in local)

        stored = [m for m in fake.memories.values() if "aurora-blue" in json.dumps(m)]
        assert {m["metadata"]["project"] for m in stored} == {"github.com/acme/shop"}
        sent = json.dumps([r.body for r in fake.requests]) + json.dumps(list(fake.memories.values()))
        assert SECRET not in sent and "alice:" not in sent
        for env in (env_a, env_b):
            data = Path(env["MEM0_HOOKS_HOME"])
            for path in data.rglob("*"):
                if path.is_file():
                    assert SECRET.encode() not in path.read_bytes(), path
            assert " ERROR " not in _log(env)


def _injected(stream: str, event: str) -> str:
    """The additionalContext our hook gave for ``event`` in a stream-json run (hook events included)."""
    for entry in hook_events(stream):
        if entry["subtype"] == "hook_response" and entry["hook_event"] == event and entry.get("stdout"):
            return str(json.loads(entry["stdout"])["hookSpecificOutput"]["additionalContext"])
    return ""


def _local_texts(env: dict[str, str]) -> list[str]:
    import sqlite3

    db = sqlite3.connect(Path(env["MEM0_HOOKS_HOME"]) / "memories.sqlite3")
    try:
        return [row[0] for row in db.execute("SELECT text FROM memories")]
    finally:
        db.close()


def _log(env: dict[str, str]) -> str:
    path = Path(env["MEM0_HOOKS_HOME"]) / "mem0-hooks.log"
    return path.read_text() if path.exists() else ""
