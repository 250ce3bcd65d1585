"""The projects this machine has seen: each project directory, and the identity its memories are stored
under (``state/projects.json``, ``{"projects": {root: {"id", "seen", "moved"}}}``).

Up to version 0.2 every memory was stored under its project's directory path. Now a repository with a
remote is stored under the remote's identity (``project.py``), so memories stored earlier must be found
under the new identity. This module keeps them found:

* **Local store: moved.** When a hook first sees a directory whose identity is not the one recorded for
  it (not recorded: the path, as before), ``settle`` records the new identity and moves the local
  store's memories of the old path identity to it, index included (``LocalStore.rename_project``, about
  40 µs a memory). Up to ``INLINE_ROWS`` are moved at once, before the hook recalls anything; a bigger
  project is left to the flusher (started at once), which also moves whatever arrived under an old path
  later (queue items captured before the upgrade). Only a path identity is ever moved: a path belongs
  to one directory on one machine, whereas moving a remote's identity (a remote whose URL changed)
  would take the memories of every other checkout of it on this machine along.
* **Remote stores: aliased.** Mem0 stores are not rewritten (OpenMemory cannot change a memory's
  metadata at all, and the others would need a request per memory): a remote search, listing or
  forget accepts the old path identities recorded for the identity as well (``identities``). Remote
  memories another machine stored under its own path are found on that machine, not here.
* **Gone directories.** ``recorded_for`` answers ``project.locate`` for a directory that no longer exists
  (an old transcript's ``cwd``): the identity recorded for it or for the nearest recorded directory above.

Only directories whose identity is not their path are recorded: a project without a remote costs a hook
nothing here, and the file stays as small as the number of repositories worked in. It is read once per
process and again only when it changed (a ``stat``), and written once per new directory or identity.
Directories and identities only: a remote's URL (with or without credentials) is not kept.
"""

from __future__ import annotations

import os

from mem0_hooks import paths
from mem0_hooks.project import is_path_identity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mem0_hooks.project import Project

FILE = "projects.json"
INLINE_ROWS = 5000  # memories a hook moves itself (about 0.2 s, once per project); more: the flusher

_loaded: tuple[tuple[int, int, int] | None, dict[str, dict[str, Any]]] | None = None
_SETTLED: set[tuple[str, str]] = set()  # (root, identity) pairs this process found recorded and moved


def records_file() -> str:
    return paths.state_file(FILE)


def records() -> dict[str, dict[str, Any]]:
    """``{root: {"id": identity, "seen": "YYYY-MM-DD", "moved": bool}}`` (a copy the caller may change)."""
    global _loaded
    path = records_file()
    try:
        st = os.stat(path)
        signature: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        signature = None
    if _loaded is None or _loaded[0] != signature:
        data: dict[str, dict[str, Any]] = {}
        if signature is not None:
            from mem0_hooks import fastjson as json

            try:
                with open(path, encoding="utf-8") as fh:
                    raw = json.load(fh)
                projects = raw.get("projects") if isinstance(raw, dict) else None
                if isinstance(projects, dict):
                    data = {
                        k: v
                        for k, v in projects.items()
                        if isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("id"), str) and v["id"]
                    }
            except (OSError, ValueError):
                data = {}
        _loaded = (signature, data)
    return {k: dict(v) for k, v in _loaded[1].items()}


def _save(data: dict[str, dict[str, Any]]) -> None:
    global _loaded
    written = paths.write_private_json(records_file(), {"version": 1, "projects": data})
    _loaded = ((written.st_ino, written.st_mtime_ns, written.st_size), {k: dict(v) for k, v in data.items()})


def settle(place: Project, config: dict[str, Any]) -> None:
    """Record ``place`` and move its old path identity's local memories, when that is still to do.

    Called by every hook before it captures or recalls: after the first call for a directory it costs
    a set lookup (and, in a new process, reading the small records file once). Never raises: a failure
    is logged, and the hook recalls and captures as it would have.
    """
    if place.id == place.root or place.how == "recorded" or (place.root, place.id) in _SETTLED:
        return  # identified by its path, as before: nothing to record, nothing to move
    try:
        _settle(place, config)
    except Exception as exc:  # noqa: BLE001 - bookkeeping must not cost the user their recall
        from mem0_hooks.log import log_exception

        log_exception(f"recording project {place.id}", exc)


def _settle(place: Project, config: dict[str, Any]) -> None:
    data = records()
    kept = data.get(place.root)
    if kept is not None and kept["id"] == place.id and kept.get("moved", True):
        _SETTLED.add((place.root, place.id))
        return
    previous = kept["id"] if kept is not None else place.root  # unrecorded: stored under its path
    moved = True
    if previous != place.id and is_path_identity(previous) and _uses_local_store(config):
        moved = _move_local(previous, place.id, at_most=INLINE_ROWS)
    elif kept is not None and kept["id"] == place.id and not kept.get("moved", True):
        moved = _move_local(place.root, place.id, at_most=INLINE_ROWS)
    import time

    data[place.root] = {"id": place.id, "seen": time.strftime("%Y-%m-%d", time.gmtime()), "moved": moved}
    try:
        _save(data)
    except OSError:
        return  # a read-only data dir: try again next time
    if moved:
        _SETTLED.add((place.root, place.id))
    else:
        from mem0_hooks.flush import spawn

        spawn()  # the flusher moves what was too big to move here (``move_local``)


def _uses_local_store(config: dict[str, Any]) -> bool:
    from mem0_hooks.config import keeps_local_index

    return keeps_local_index(config)


def _move_local(old: str, new: str, *, at_most: int | None) -> bool:
    """Move the local store's memories of ``old`` to ``new``; False when there were more than ``at_most``
    (nothing moved) or the store could not be written (tried again later)."""
    from mem0_hooks.errors import BackendError
    from mem0_hooks.recall import local_store

    try:
        moved = local_store().rename_project(old, new, at_most=at_most)
    except BackendError as exc:
        from mem0_hooks.log import log

        log(f"could not move the memories of {old} to {new} yet: {exc}", level="WARNING")
        return False
    if moved:
        from mem0_hooks.log import log

        log(f"moved {moved} memories of {old} to the project's identity {new}")
    return moved is not None


def move_local(store: Any) -> int:
    """Move every recorded directory's path-identity memories in ``store`` to its identity (the flusher
    runs this: for projects too big for a hook, and for items that arrived under a path later). Returns
    how many memories were moved."""
    total = 0
    data = records()
    changed = False
    for root, record in data.items():
        if record["id"] == root or not is_path_identity(root):
            continue
        moved = store.rename_project(root, record["id"], at_most=None) or 0
        total += moved
        if not record.get("moved", True):
            record["moved"] = True
            changed = True
        if moved:
            from mem0_hooks.log import log

            log(f"moved {moved} memories of {root} to the project's identity {record['id']}")
    if changed:
        try:
            _save(data)
        except OSError:
            pass
    return total


def identities(project: str) -> frozenset[str]:
    """``project`` and the old path identities recorded for it on this machine (a remote store's memories
    of this project are stored under any of them)."""
    if not project or is_path_identity(project):
        return frozenset((project,))
    return frozenset([project] + [root for root, r in records().items() if r["id"] == project and root != project])


def aliases(project: str) -> list[str]:
    """The old identities of ``project`` (``identities`` without it), sorted."""
    return sorted(identities(project) - {project})


def describe(place: Project) -> dict[str, Any]:
    """What identifies ``place`` and what this machine knows of it, for ``status`` and ``doctor``."""
    record = records().get(place.root)
    return {
        "id": place.id,
        "root": place.root,
        "how": place.how,
        "remote": place.remote,
        "url": place.url,  # without credentials (``project.display_url``)
        "line": place.describe(),
        "old_identities": aliases(place.id),
        "recorded": record is not None,
        "moved": bool(record.get("moved", True)) if record is not None else None,
    }


def recorded_for(path: str) -> tuple[str, str] | None:
    """(root, identity) recorded for ``path`` or the nearest recorded directory above it; None when none."""
    data = records()
    probe = path
    for _ in range(64):
        record = data.get(probe)
        if record is not None:
            return probe, str(record["id"])
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    return None
