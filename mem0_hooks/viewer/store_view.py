"""What the viewer reads from a store: projects, their sessions, the memories of each, by page.

Two implementations of one small read model. ``LocalView`` reads the embedded store with indexed
queries, so every page costs the same at 100,000 memories as at 100. ``RemoteView`` works on any
store through the interface the CLI uses (``Backend.list``, ``count``): it lists up to
``REMOTE_LIMIT`` memories, keeps them ``REMOTE_TTL`` seconds (until a forget or an add), and groups
them here. Forgets and adds go through ``memory_tools``, as the MCP tools' do.

Errors are the store's: ``BackendError``, or ``sqlite3.Error`` from a locked or damaged local store;
the viewer turns them into a banner.
"""

from __future__ import annotations

import time
from typing import Any

from mem0_hooks.backends.base import Memory

REMOTE_LIMIT = 5000
REMOTE_TTL = 30.0
SESSION_TURNS = 2000  # turns shown for one session (a longer session shows its first ones)


class LocalView:
    """The embedded store, read with indexed queries."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.name = "local"

    def close(self) -> None:
        self.store.close()

    def changed(self) -> None:
        """Nothing is cached: every read asks the store."""

    def describe(self) -> str:
        return f"local store {self.store.path}"

    def count(self) -> int:
        return int(self.store.count())

    def projects(self) -> list[dict[str, Any]]:
        """Every project with its number of memories and its newest memory's date, newest first."""
        rows = self.store.db.execute(
            "SELECT project, count(*), max(created_at) FROM memories GROUP BY project ORDER BY 3 DESC"
        ).fetchall()
        return [{"project": r[0], "memories": r[1], "last_at": r[2] or ""} for r in rows]

    def project_counts(self, project: str) -> tuple[int, int]:
        """(memories, sessions) of ``project``: both counted in an index (a session by its opening turn)."""
        memories = self.store.db.execute("SELECT count(*) FROM memories WHERE project = ?", (project,)).fetchone()[0]
        sessions = self.store.db.execute(
            "SELECT count(*) FROM memories WHERE project = ? AND seq = 1", (project,)
        ).fetchone()[0]
        return int(memories), int(sessions)

    def sessions(self, project: str, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of ``project``'s sessions, newest first by when they began: each found by its opening
        turn (``seq`` 1, the index recall reads openings with), so a page costs the same at any depth and
        size. (A session whose opening turn was forgotten is not on the timeline; its turns are still on
        the memories pages.) With the first and last date, the number of turns and the opening."""
        openings = self.store.db.execute(
            "SELECT session_id, created_at, text FROM memories WHERE project = ? AND seq = 1 AND session_id != ''"
            " ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (project, limit + 1, offset),
        ).fetchall()
        out = []
        for session_id, first_at, opening in openings[:limit]:
            turns = self.store.db.execute("SELECT count(*) FROM memories WHERE session_id = ?", (session_id,))
            last = self.store.db.execute(
                "SELECT created_at FROM memories WHERE session_id = ? ORDER BY seq DESC LIMIT 1", (session_id,)
            ).fetchone()
            out.append(
                {
                    "session": session_id,
                    "first_at": first_at,
                    "last_at": max(first_at, last[0] if last else first_at),
                    "turns": int(turns.fetchone()[0]),
                    "opening": opening,
                }
            )
        return out, len(openings) > limit

    def session_turns(self, session_id: str) -> list[Memory]:
        """The turns of one session, in order."""
        from mem0_hooks.backends.local import COLUMNS, memory_of

        rows = self.store.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE session_id = ? ORDER BY seq, created_at LIMIT ?",
            (session_id, SESSION_TURNS),
        ).fetchall()
        return [memory_of(r) for r in rows]

    def memories(self, project: str | None, *, offset: int, limit: int) -> tuple[list[Memory], bool]:
        from mem0_hooks.memory_tools import page_of

        return page_of(self.store, project=project, offset=offset, limit=limit)

    def notes(self, project: str, limit: int) -> list[Memory]:
        """Notes added on purpose to ``project`` (user-wide ones are the project ``""``), newest first."""
        from mem0_hooks.backends.local import COLUMNS, memory_of

        rows = self.store.db.execute(
            f"SELECT {COLUMNS} FROM memories WHERE role = 'note' AND project = ? ORDER BY created_at DESC LIMIT ?",
            (project, limit),
        ).fetchall()
        return [memory_of(r) for r in rows]

    def by_ids(self, ids: list[str]) -> dict[str, Memory]:
        from mem0_hooks import injections

        return injections.resolve(self.store, ids)


class RemoteView:
    """Any store, through ``Backend.list``: the newest ``REMOTE_LIMIT`` memories, grouped here."""

    def __init__(self, backend: Any) -> None:
        self.backend = self.store = backend
        self.name = backend.name
        self._listed: tuple[float, list[Memory]] | None = None

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()

    def changed(self) -> None:
        self._listed = None

    def describe(self) -> str:
        return f"{self.name} store"

    def _all(self) -> list[Memory]:
        now = time.monotonic()
        if self._listed is None or now - self._listed[0] > REMOTE_TTL:
            self._listed = (now, list(self.backend.list(limit=REMOTE_LIMIT)))
        return self._listed[1]

    def count(self) -> int | None:
        count = self.backend.count()
        return len(self._all()) if count is None else int(count)

    def projects(self) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for m in self._all():
            entry = found.setdefault(m.project, {"project": m.project, "memories": 0, "last_at": ""})
            entry["memories"] += 1
            entry["last_at"] = max(entry["last_at"], m.created_at or "")
        return sorted(found.values(), key=lambda e: e["last_at"], reverse=True)

    def _sessions_of(self, project: str) -> dict[str, list[Memory]]:
        sessions: dict[str, list[Memory]] = {}
        for m in self._all():
            if m.project == project and m.session_id:
                sessions.setdefault(m.session_id, []).append(m)
        return sessions

    def project_counts(self, project: str) -> tuple[int, int]:
        return sum(1 for m in self._all() if m.project == project), len(self._sessions_of(project))

    def sessions(self, project: str, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        out = []
        for session_id, turns in self._sessions_of(project).items():
            dates = sorted(m.created_at or "" for m in turns)
            first = min(turns, key=lambda m: (m.created_at or "", m.id))
            out.append(
                {
                    "session": session_id,
                    "first_at": dates[0],
                    "last_at": dates[-1],
                    "turns": len(turns),
                    "opening": first.text,
                }
            )
        out.sort(key=lambda s: str(s["first_at"]), reverse=True)  # newest first by when they began, as LocalView
        return out[offset : offset + limit], len(out) > offset + limit

    def session_turns(self, session_id: str) -> list[Memory]:
        turns = [m for m in self._all() if m.session_id == session_id]
        return sorted(turns, key=lambda m: (m.created_at or "", m.id))[:SESSION_TURNS]

    def memories(self, project: str | None, *, offset: int, limit: int) -> tuple[list[Memory], bool]:
        """A page of the listing already read (``Backend.list`` reads the whole store on every call)."""
        found = [m for m in self._all() if project is None or m.project == project]
        return found[offset : offset + limit], len(found) > offset + limit

    def notes(self, project: str, limit: int) -> list[Memory]:
        return [m for m in self._all() if m.role == "note" and m.project == project][:limit]

    def by_ids(self, ids: list[str]) -> dict[str, Memory]:
        wanted = set(ids)
        return {m.id: m for m in self._all() if m.id in wanted}


def open_view(config: dict[str, Any]) -> LocalView | RemoteView:
    """The read model for the configured store. The local store is opened with a short lock timeout:
    a store that another program holds shows a banner after a second, not after five."""
    if config["backend"] == "local":
        from mem0_hooks.backends.local import LocalStore

        return LocalView(LocalStore(timeout=1.0))
    from mem0_hooks.backends.hybrid import open_store

    return RemoteView(open_store(config))  # with the local index beside it: a forget reaches both
