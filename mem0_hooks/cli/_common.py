"""Small pieces shared by the CLI commands: config loading with clean errors, output helpers."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, TextIO

from mem0_hooks.errors import Mem0HooksError


class FatalError(Mem0HooksError):
    """A CLI failure shown to the user as one ``error: ...`` line, exit 1."""


def load_config() -> dict[str, Any]:
    from mem0_hooks import config

    return config.load()


def open_store(config: dict[str, Any]) -> Any:
    """The store to list and forget in: with a remote backend, the hybrid of it and the local index."""
    from mem0_hooks.backends.hybrid import open_store as open_hybrid

    return open_hybrid(config)


def current_project(path: str | None = None) -> str:
    """The identity of the project at ``path`` (default: the current directory), under which its memories
    are stored; a directory seen for the first time has its old memories moved first, as a hook would."""
    from mem0_hooks.project import locate
    from mem0_hooks.project_map import settle

    place = locate(path or os.getcwd())
    settle(place, load_config())
    return place.id


def current_root(path: str | None = None) -> str:
    """The directory of the project at ``path`` (default: the current directory) on this machine."""
    from mem0_hooks.project import project_root

    return project_root(path or os.getcwd())


def ago(stamp: float | None) -> str:
    """``3m ago`` style for a unix time (``never`` for None)."""
    if not stamp:
        return "never"
    delta = max(time.time() - float(stamp), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{int(delta // size)}{unit} ago"
    return f"{int(delta)}s ago"


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def memory_json(memory: Any) -> dict[str, Any]:
    """The documented shape of a memory in ``--json`` output."""
    return {
        "id": memory.id,
        "text": memory.text,
        "role": memory.role,
        "created_at": memory.created_at,
        "session": memory.session_id,
        "project": memory.project,
        "scope": memory.scope,
        "score": memory.score,
    }


def one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "\u2026"


class ProgressLine:
    """One line rewritten in place on a terminal (stderr by default): a long command's progress. Silent
    when the stream is not a terminal. A command's report subclasses it: ``update`` asks ``due()`` and
    writes its line with ``show``; ``done`` wipes the line before the summary."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.last = 0.0  # when the line was last written (time.monotonic)
        self.shown = False

    def due(self) -> bool:
        """Whether to write the line now: on a terminal, at most once an ``interval``."""
        now = time.monotonic()
        if not self.tty or now - self.last < self.interval:
            return False
        self.last = now
        return True

    def show(self, text: str) -> None:
        self.stream.write(f"\r  {text}\x1b[K")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def time_left(left: float, rate: float) -> str:
    """``", ~12s left"`` for ``left`` units at ``rate`` a second; nothing when done or no rate yet."""
    return f", ~{left / rate:.0f}s left" if rate > 0 and left else ""
