"""The one small interface every memory store implements, and the records that cross it.

A ``MemoryItem`` is what capture produces (one conversation turn or one note, already redacted);
a ``Memory`` is what a store gives back. Stores are chosen by ``backends.open_backend(config)``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object


class _Record:
    """Equality, repr and to_dict from ``__slots__`` (what @dataclass gave, without importing dataclasses)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        import copy

        return {n: copy.deepcopy(getattr(self, n)) for n in self.__slots__}


class MemoryItem(_Record):
    """One thing to remember, as it sits in the queue. ``id`` is stable: the same turn, the same id."""

    __slots__ = ("id", "text", "role", "created_at", "session_id", "project", "scope", "seq", "metadata")

    def __init__(
        self,
        id: str,
        text: str,
        role: str,
        created_at: str,
        session_id: str = "",
        project: str = "",
        scope: str = "project",
        seq: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.id, self.text, self.role, self.created_at = id, text, role, created_at
        self.session_id, self.project, self.scope, self.seq = session_id, project, scope, seq
        self.metadata = {} if metadata is None else metadata

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MemoryItem:
        known = {k: data[k] for k in cls.__slots__ if k in data}
        return cls(**known)


class Memory(_Record):
    """A stored memory as a store returns it; ``score`` is set by search (higher is better)."""

    __slots__ = ("id", "text", "role", "created_at", "session_id", "project", "scope", "score", "metadata")

    def __init__(
        self,
        id: str,
        text: str,
        role: str = "",
        created_at: str = "",
        session_id: str = "",
        project: str = "",
        scope: str = "project",
        score: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.id, self.text, self.role, self.created_at = id, text, role, created_at
        self.session_id, self.project, self.scope, self.score = session_id, project, scope, score
        self.metadata = {} if metadata is None else metadata


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
