"""The one small interface every memory store implements, and the records that cross it.

A ``MemoryItem`` is what capture produces (one conversation turn or one note, already redacted);
a ``Memory`` is what a store gives back. Stores are chosen by ``backends.open_backend(config)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass
class MemoryItem:
    """One thing to remember, as it sits in the queue. ``id`` is stable: the same turn, the same id."""

    id: str
    text: str
    role: str  # "user" | "assistant" | "note"
    created_at: str  # ISO-8601 UTC, when the turn happened
    session_id: str = ""
    project: str = ""  # absolute path of the git root (else the cwd); "" for user-wide memories
    scope: str = "project"  # "project" | "user"
    seq: int = 0  # position of the turn in its session, for joining neighbours
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemoryItem:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class Memory:
    """A stored memory as a store returns it; ``score`` is set by search (higher is better)."""

    id: str
    text: str
    role: str = ""
    created_at: str = ""
    session_id: str = ""
    project: str = ""
    scope: str = "project"
    score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(Protocol):
    """What capture, recall and the CLI need from a store. Errors are ``errors.BackendError``."""

    name: str

    def add(self, items: list[MemoryItem]) -> None:
        """Store the items; an item whose id was already stored is not stored again."""

    def search(self, query: str, *, project: str, limit: int, deadline: float | None = None) -> list[Memory]:
        """Memories relevant to ``query`` in ``project`` (plus user-wide ones), best first.

        ``deadline`` is a ``time.monotonic()`` value after which the call must give up.
        """

    def recent(self, *, project: str, limit: int) -> list[Memory]:
        """The newest memories of ``project``, newest first (SessionStart orientation)."""

    def list(self, *, project: str | None = None, limit: int | None = None) -> list[Memory]:
        """Every memory (of ``project`` when given), newest first."""

    def delete(self, memory_id: str) -> bool:
        """Forget one memory; False when there was no such memory."""

    def delete_all(self, *, project: str | None = None) -> int:
        """Forget every memory (of ``project`` when given); returns how many were forgotten when known."""

    def health(self) -> str:
        """A one-line description of a working store; raises ``BackendError`` saying what is wrong."""

    def count(self) -> int | None:
        """How many memories the store holds, when that is cheap to know."""
