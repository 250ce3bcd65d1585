"""The hybrid store: a remote store with this machine's local index beside it (``mem0.local_index``).

Capture writes both (the flusher's local index, ``flush.open_targets``); recall fuses both
(``ranking.fusion``). This is what the CLI and the memory tools hold when they list and forget, so that
a memory forgotten is forgotten in both places, whichever id names it:

* an id the local index holds (search shows a turn held here under our id, which the remote copies
  carry as ``metadata.mem0_hooks_id``): the local turn is forgotten, and so is every remote memory
  carrying that id (the turn itself, or facts Mem0 made of it), found in the turn's session;
* any other id is the remote store's own: the remote memory is read (for the id of ours it carries),
  forgotten, and the local turn it is a copy of, if any, forgotten too.

Listing and counting are the remote store's (it has every machine's memories); the local index only
holds what was captured here.
"""

from __future__ import annotations

from typing import Any

from mem0_hooks.backends.base import Memory
from mem0_hooks.backends.local import SESSION_ID, TEXT


class HybridStore:
    """``HybridStore(remote, local)``: lists, counts and forgets across both; ``name`` is the remote's."""

    def __init__(self, remote: Any, local: Any) -> None:
        self.remote = remote
        self.local = local
        self.name = remote.name

    def __repr__(self) -> str:
        return f"<HybridStore {self.remote!r} + {self.local.path}>"

    def close(self) -> None:
        self.remote.close()
        self.local.close()

    def __enter__(self) -> HybridStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def delete(self, memory_id: str) -> bool:
        """Forget one memory, named by either store's id (see the module docstring)."""
        held = self.local.rows_by_id([memory_id]).get(memory_id)
        if held is not None:
            copies = self.remote.carrying(memory_id, session_id=held[SESSION_ID] or None)
            for remote_id in copies:
                self.remote.delete(remote_id)
            self.local.delete(memory_id)
            return True
        found = self.remote.get(memory_id)
        if found is None:
            return bool(self.remote.delete(memory_id))  # (whatever the store says of an id it cannot read)
        deleted = self.remote.delete(memory_id)
        flat = _flat(found.text)
        for ours, row in self.local.rows_by_id(_ids_of(found)).items():
            if _flat(row[TEXT]) == flat:  # the turn it is a copy of (not the turns a fact was made of)
                self.local.delete(ours)
        return bool(deleted)

    def delete_all(self, *, project: str | None = None) -> int:
        """Forget every memory (of ``project``) in both; the count is the remote store's when it knows."""
        local = self.local.delete_all(project=project)
        remote = self.remote.delete_all(project=project)
        return int(remote if remote is not None else local)

    def search(self, query: str, *, project: str, limit: int, deadline: float | None = None) -> list[Memory]:
        return list(self.remote.search(query, project=project, limit=limit, deadline=deadline))

    def recent(self, *, project: str, limit: int) -> list[Memory]:
        return list(self.remote.recent(project=project, limit=limit))

    def count(self) -> int | None:
        return self.remote.count()  # type: ignore[no-any-return]

    def health(self) -> str:
        return f"{self.remote.health()}; local index {self.local.path}: {self.local.count()} memories captured here"

    def add(self, items: list[Any]) -> None:
        self.local.add(items)
        self.remote.add(items)

    # Last in the class on purpose: after it, ``list`` in an annotation would name this method.
    def list(self, *, project: str | None = None, limit: int | None = None) -> list[Memory]:
        return list(self.remote.list(project=project, limit=limit))


def _ids_of(memory: Memory) -> list[str]:
    """The ids of ours a remote memory carries: the turn it is, or the turns a fact was made of."""
    md = memory.metadata or {}
    ids = [md.get("mem0_hooks_id"), *(md.get("mem0_hooks_ids") if isinstance(md.get("mem0_hooks_ids"), list) else [])]
    return list(dict.fromkeys(str(i) for i in ids if i))


def _flat(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def open_store(config: dict[str, Any]) -> Any:
    """The store the CLI and the memory tools list and forget in: the local one, a remote one, or the
    hybrid of a remote one and the local index (``mem0.local_index``, on by default)."""
    from mem0_hooks.backends import open_backend
    from mem0_hooks.config import keeps_local_index

    backend = open_backend(config)
    if backend.name == "local" or not keeps_local_index(config):
        return backend
    from mem0_hooks.backends.local import LocalStore

    return HybridStore(backend, LocalStore())
