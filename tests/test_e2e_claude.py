"""The memory loop end to end with the real Claude Code CLI against a mock Messages API.

Session one states a fact; the detached flusher stores it; session two, a new session in the same
project, asks about it; the request the mock receives in session two must carry the fact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tests.support.claude_cli import python_hook_command, run_claude, write_user_settings
from tests.support.hooks import HOOK_FILES, HOOKS_DIR
from tests.support.mock_anthropic import MockAnthropic

pytestmark = pytest.mark.e2e

FACT = "Our staging database is called aurora-blue and listens on port 6543."
QUESTION = "Which port does the staging database listen on?"


def _hooks_block() -> dict:
    block = {}
    for event in ("SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"):
        handler = {"type": "command", "command": python_hook_command(HOOKS_DIR / HOOK_FILES[event]), "timeout": 10}
        block[event] = [{"hooks": [handler]}]
    return block


def _wait_until_stored(data: Path, at_least: int, timeout: float = 20.0) -> int:
    """Poll the store the detached flusher writes (bounded): the flusher runs outside the CLI."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        db = data / "memories.sqlite3"
        if db.exists():
            with sqlite3.connect(db) as conn:
                try:
                    count = conn.execute("SELECT count(*) FROM memories").fetchone()[0]
                except sqlite3.OperationalError:
                    count = 0
            if count >= at_least and not any((data / "queue" / "pending").glob("*.json")):
                return count
        time.sleep(0.1)
    return count


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "my project"
    (proj / ".git").mkdir(parents=True)
    return proj


WAIT_FOR_MCP = {"MCP_CONNECTION_NONBLOCKING": "false"}


def test_a_fact_from_one_session_reaches_the_model_in_the_next(
    data_home: Path, isolated_home: Path, project: Path
) -> None:
    write_user_settings(isolated_home, _hooks_block())
    env = {"MEM0_HOOKS_HOME": str(data_home)}
    with MockAnthropic(reply="Noted: aurora-blue on port 6543.") as api:
        first = run_claude(FACT, home=isolated_home, cwd=project, api=api, env=env)
        assert first.returncode == 0, first.stderr
        stored = _wait_until_stored(data_home, at_least=2)
        assert stored >= 2, f"the flusher stored {stored} memories; log: {_log(data_home)}"
        api.requests.clear()
        api.raw_bodies.clear()
        second = run_claude(QUESTION, home=isolated_home, cwd=project, api=api, env=env)
        assert second.returncode == 0, second.stderr
        body = api.raw_text()
    assert "6543" in body and "aurora-blue" in body
    assert "recalled-memories" in body
    assert not (data_home / "mem0-hooks.log").exists() or " ERROR " not in _log(data_home)


def test_prompt_recall_alone_brings_the_fact(data_home: Path, isolated_home: Path, project: Path) -> None:
    """With the SessionStart orientation off, the UserPromptSubmit search must find the fact by itself."""
    write_user_settings(isolated_home, _hooks_block())
    env = {"MEM0_HOOKS_HOME": str(data_home), "MEM0_HOOKS_MEMORY_RECALL_ON_SESSION_START": "false"}
    with MockAnthropic(reply="Noted.") as api:
        assert run_claude(FACT, home=isolated_home, cwd=project, api=api, env=env).returncode == 0
        assert _wait_until_stored(data_home, at_least=2) >= 2
        api.raw_bodies.clear()
        assert run_claude(QUESTION, home=isolated_home, cwd=project, api=api, env=env).returncode == 0
        body = api.raw_text()
    assert "UserPromptSubmit hook additional context" in body
    assert "aurora-blue" in body


def test_another_project_does_not_see_the_fact(
    data_home: Path, isolated_home: Path, project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    (other / ".git").mkdir(parents=True)
    write_user_settings(isolated_home, _hooks_block())
    env = {"MEM0_HOOKS_HOME": str(data_home)}
    with MockAnthropic(reply="Noted.") as api:
        assert run_claude(FACT, home=isolated_home, cwd=project, api=api, env=env).returncode == 0
        assert _wait_until_stored(data_home, at_least=2) >= 2
        api.raw_bodies.clear()
        assert run_claude(QUESTION, home=isolated_home, cwd=other, api=api, env=env).returncode == 0
        body = api.raw_text()
    assert "aurora-blue" not in body


def _log(data: Path) -> str:
    path = data / "mem0-hooks.log"
    return path.read_text() if path.exists() else ""


def test_settings_json_is_what_the_harness_wrote(isolated_home: Path) -> None:
    path = write_user_settings(isolated_home, _hooks_block())
    data = json.loads(Path(path).read_text())
    assert set(data["hooks"]) == {"SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"}
    assert os.path.isabs(data["hooks"]["Stop"][0]["hooks"][0]["command"].split()[0].strip("'\""))


# -- the memory tools (MCP) ----------------------------------------------------------------------------
def test_the_model_searches_memory_through_the_mcp_tool(data_home: Path, isolated_home: Path, project: Path) -> None:
    """Claude Code offers the tools; a tool_use of search_memory gets back a tool_result holding the memory."""
    from mem0_hooks import capture
    from mem0_hooks.backends.base import MemoryItem
    from mem0_hooks.backends.local import LocalStore
    from mem0_hooks.config_model import Config
    from tests.support.claude_cli import register_mcp_server
    from tests.support.mock_anthropic import ToolUse, offered_tool, tool_results

    config = Config.model_validate({}).model_dump()
    note = capture.make_item(text=FACT, role="note", session_id="", project=str(project), seq=0, config=config)
    assert note is not None
    LocalStore().add([MemoryItem.from_dict(note)])
    register_mcp_server(
        isolated_home,
        "mem0-hooks",
        {
            "type": "stdio",
            "command": sys.executable,
            "args": ["-m", "mem0_hooks.cli.main", "mcp"],
            "env": {"MEM0_HOOKS_HOME": str(data_home), "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        },
    )
    # What install writes: the read-only tools allowed (a -p session cannot ask).
    settings = isolated_home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    allow = ["mcp__mem0-hooks__search_memory", "mcp__mem0-hooks__list_memories"]
    settings.write_text(json.dumps({"permissions": {"allow": allow}}))

    def reply(body: dict) -> str | ToolUse:
        tool = offered_tool(body, "__search_memory")
        if tool_results(body) or tool is None:
            return "The staging database listens on port 6543."
        return ToolUse(tool, {"query": "staging database port"})

    with MockAnthropic(reply=reply) as api:
        # (connect the MCP servers before the first request: by default Claude Code does not wait, and
        # on a loaded machine the server could come up after it)
        proc = run_claude(QUESTION, home=isolated_home, cwd=project, api=api, env=WAIT_FOR_MCP)
        requests = list(api.requests)

    assert proc.returncode == 0, proc.stderr
    first = json.dumps(requests[0])  # the five tools are offered (2.1.330 lists MCP tools as deferred ones)
    for name in ("search_memory", "add_memories", "list_memories", "delete_memories", "delete_all_memories"):
        assert f"mcp__mem0-hooks__{name}" in first
    answered = [r for body in requests[1:] for r in tool_results(body)]
    assert answered, "Claude Code never sent the tool's result back"
    result = json.dumps(answered[0].get("content"))
    assert not answered[0].get("is_error"), result
    assert "aurora-blue" in result and "6543" in result and note["id"] in result
