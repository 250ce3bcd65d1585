"""Running the real hook executables the way Claude Code does: a shell command, JSON on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
HOOKS_DIR = REPO_ROOT / "hooks"
HOOK_FILES = {
    "SessionStart": "session_start.py",
    "UserPromptSubmit": "user_prompt_submit.py",
    "Stop": "stop.py",
    "SessionEnd": "session_end.py",
    "PreCompact": "pre_compact.py",
}


def run_hook(
    event: str,
    payload: Any,
    *,
    env: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 30,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``hooks/<event>.py`` with ``payload`` as JSON on stdin (or ``raw`` bytes); returns the process."""
    data = raw if raw is not None else json.dumps(payload).encode()
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(HOOKS_DIR / HOOK_FILES[event])],
        input=data,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def prompt_event(session: str, cwd: Path, text: str, transcript: Path | None = None) -> dict[str, Any]:
    """The UserPromptSubmit input Claude Code sends for ``text`` typed in ``cwd``."""
    return {
        "session_id": session,
        "cwd": str(cwd),
        "hook_event_name": "UserPromptSubmit",
        "prompt": text,
        "transcript_path": str(transcript or cwd / "none.jsonl"),
    }


def stop_event(session: str, cwd: Path, reply: str, transcript: Path | str | None = None) -> dict[str, Any]:
    """The Stop input Claude Code sends once Claude has answered ``reply`` (no transcript unless given)."""
    return {
        "session_id": session,
        "cwd": str(cwd),
        "hook_event_name": "Stop",
        "stop_hook_active": False,
        "last_assistant_message": reply,
        "transcript_path": str(transcript or ""),
    }


def injected_context(proc: subprocess.CompletedProcess[bytes], event: str) -> str:
    """The additionalContext a hook printed ("" for no output); asserts the output is what Claude Code accepts."""
    out = proc.stdout.decode()
    if not out.strip():
        return ""
    data = json.loads(out)
    specific = data["hookSpecificOutput"]
    assert specific["hookEventName"] == event
    context = specific["additionalContext"]
    assert isinstance(context, str)
    return context
