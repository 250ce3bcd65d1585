"""Run the real ``claude`` CLI in print mode against :class:`MockAnthropic`, isolated in a temp HOME.

    with MockAnthropic(reply="ok") as api:
        write_user_settings(home, {"UserPromptSubmit": [{"hooks": [{"type": "command", "command": cmd}]}]})
        proc = run_claude("hello", home=home, cwd=project, api=api)
        events = hook_events(proc.stdout)

The binary is pinned to :data:`CLAUDE_VERSION` and installed by ``scripts/install-claude-code.sh``.
Observed with 2.1.330: a brand-new empty HOME needs no onboarding, trust or login state for ``-p``;
the API key and base URL in the environment are enough, and one run takes well under a second.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from .mock_anthropic import MockAnthropic

CLAUDE_VERSION = "2.1.330"
MODEL = "claude-sonnet-4-5"
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHED_CLAUDE = REPO_ROOT / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"

# Variables from the caller's own environment that would point the child at a real account, a real
# config dir, or make it think it runs inside another Claude Code session.
_LEAKY_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "CLAUDECODE", "AWS_BEARER_TOKEN_BEDROCK")


def find_claude() -> str | None:
    """Path to the claude binary: ``$CLAUDE_BIN``, else the repo's cached install, else ``PATH``."""
    if os.environ.get("CLAUDE_BIN"):
        return os.environ["CLAUDE_BIN"]
    if CACHED_CLAUDE.exists():
        return str(CACHED_CLAUDE)
    return shutil.which("claude")


def require_claude() -> str:
    """The claude binary, or skip the test; under CI (which installs it) fail instead of skipping."""
    path = find_claude()
    if path is not None:
        return path
    reason = (
        "claude CLI not found (set CLAUDE_BIN, or run scripts/install-claude-code.sh "
        f"to install {CLAUDE_VERSION} into .cache/claude-code)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def python_hook_command(script: Path | str, *args: str) -> str:
    """A hook ``command`` string that runs ``script`` with this test run's Python interpreter."""
    return shlex.join([sys.executable, str(script), *args])


def write_user_settings(home: Path | str, hooks_block: Mapping[str, Any]) -> Path:
    """Write ``<home>/.claude/settings.json`` holding ``{"hooks": hooks_block}``; return its path.

    ``hooks_block`` maps event names to matcher groups, as in the settings file. Nothing else is
    needed in a fresh HOME: ``-p`` shows no onboarding and asks for no trust (2.1.330).
    """
    settings = Path(home) / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"hooks": dict(hooks_block)}, indent=2) + "\n", encoding="utf-8")
    return settings


def register_mcp_server(home: Path | str, name: str, entry: Mapping[str, Any]) -> Path:
    """Add a user-scope MCP server to ``<home>/.claude.json`` (where ``claude mcp add -s user`` puts it)."""
    path = Path(home) / ".claude.json"
    state = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    state.setdefault("mcpServers", {})[name] = dict(entry)
    path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return path


def claude_env(home: Path | str, api: MockAnthropic, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child environment: the caller's, minus anything Claude-related, plus the mock's endpoint."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
    child.update(
        HOME=str(home),
        ANTHROPIC_BASE_URL=api.base_url,
        ANTHROPIC_API_KEY="dummy",
        # Without this the CLI spends seconds on telemetry and update checks that cannot connect.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    child.update(env or {})
    return child


def run_claude(
    prompt: str,
    *,
    home: Path | str,
    cwd: Path | str,
    api: MockAnthropic,
    extra_args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``claude -p prompt`` with stream-json output and hook events; return the finished process."""
    argv = [
        require_claude(),
        "-p",
        prompt,
        "--model",
        MODEL,
        "--output-format",
        "stream-json",
        "--verbose",  # stream-json in -p mode refuses to run without it
        "--include-hook-events",
        *extra_args,
    ]
    return subprocess.run(
        argv,
        cwd=cwd,
        env=claude_env(home, api, env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def stream_events(stdout: str) -> list[dict[str, Any]]:
    """Every JSON object in a stream-json stdout, in order; other lines are ignored."""
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def hook_events(stdout: str) -> list[dict[str, Any]]:
    """The ``hook_started`` / ``hook_response`` system events (SessionEnd never appears in them)."""
    return [
        e
        for e in stream_events(stdout)
        if e.get("type") == "system" and e.get("subtype") in ("hook_started", "hook_response")
    ]


def result_text(stdout: str) -> str | None:
    """The final reply text from the stream's ``result`` event, or None if there is none."""
    results = [e for e in stream_events(stdout) if e.get("type") == "result"]
    return results[-1].get("result") if results else None
