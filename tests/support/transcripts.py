"""Transcript lines as Claude Code writes them, for tests that feed the Stop, SessionEnd and PreCompact hooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def transcript_entry(kind: str, session: str, n: int, content: Any, cwd: Path, **extra: Any) -> dict[str, Any]:
    """One transcript line as Claude Code 2.1.330 writes it (spec section 5.2)."""
    message: dict[str, Any] = {"role": kind, "content": content}
    if kind == "assistant":
        message.update(id=f"msg_{session}_{n // 10}", model="claude-sonnet-4-5", type="message", stop_reason=None)
    entry = {
        "type": kind,
        "message": message,
        "uuid": f"{session}-{n:04d}",
        "parentUuid": f"{session}-{n - 1:04d}" if n else None,
        "isSidechain": False,
        "sessionId": session,
        "timestamp": f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}.000Z",
        "cwd": str(cwd),
        "version": "2.1.330",
        "gitBranch": "main",
        "userType": "external",
        "entrypoint": "cli",
    }
    entry.update(extra)
    return entry


def append_lines(path: Path, entries: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(entry) + "\n")
