"""``search``, ``list``, ``add`` and ``forget``: the user's direct hands on the store."""

from __future__ import annotations

import sys
from typing import Any

from mem0_hooks.cli._common import (
    FatalError,
    current_project,
    load_config,
    memory_json,
    one_line,
    open_store,
    print_json,
)


def _print_memories(memories: list[Any]) -> None:
    for m in memories:
        score = f" {m.score:6.2f}" if m.score is not None else ""
        print(f"{m.id[:12]}{score}  {m.created_at[:16]:16}  {m.role:9}  {one_line(m.text)}")


def search(query: str, *, limit: int, project: str | None, as_json: bool) -> int:
    from mem0_hooks import recall

    config = load_config()
    found = recall.search(query, project=current_project(project), config=config, limit=limit)
    if as_json:
        print_json([memory_json(m) for m in found])
    elif not found:
        print("no memories match", file=sys.stderr)
    else:
        _print_memories(found)
    return 0


def list_memories(*, project: str | None, all_projects: bool, limit: int | None, as_json: bool) -> int:
    config = load_config()
    store = open_store(config)
    scope = None if all_projects else current_project(project)
    found = store.list(project=scope, limit=limit)
    if as_json:
        print_json([memory_json(m) for m in found])
    else:
        _print_memories(found)
        where = "" if scope is None else f" in {scope} (--all for every project)"
        print(f"{len(found)} memories{where}", file=sys.stderr)
    return 0


def add(text: str, *, user_wide: bool, project: str | None) -> int:
    """Store a note now: through the queue (so redaction and delivery rules apply), then drained."""
    from mem0_hooks import capture
    from mem0_hooks.cli.replay import drain_now

    config = load_config()
    where = current_project(project)
    item = capture.note(text, project=where, user_wide=user_wide, config=config)
    if item is None:
        raise FatalError("nothing left to remember after removing secrets and <private> spans")
    from mem0_hooks import queue

    result = drain_now(config, quiet=True)
    delivered = result is not None and (result.delivered or result.duplicates)
    # (a background flusher may have delivered it first: then it has left the queue, and not as dead)
    if delivered or queue.where(item["id"]) is None:
        print(f"remembered {item['id'][:12]} ({'user-wide' if user_wide else where})")
        return 0
    print(f"queued {item['id'][:12]}; the store did not confirm yet (see `mem0-hooks status`)", file=sys.stderr)
    return 1


def forget(memory_id: str | None, *, everything: bool, project: str | None, yes: bool) -> int:
    config = load_config()
    store = open_store(config)
    if everything:
        scope = current_project(project) if project else None
        what = f"every memory of {scope}" if scope else "EVERY memory"
        if not yes:
            if not sys.stdin.isatty():
                raise FatalError(f"refusing to forget {what} without --yes")
            answer = input(f"Forget {what}? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing forgotten")
                return 1
        count = store.delete_all(project=scope)
        from mem0_hooks import injections

        injections.forget(project=scope)  # what the prompts were shown, and their first words
        print(f"forgot {count} memories")
        return 0
    if not memory_id:
        raise FatalError("say which memory: `mem0-hooks forget ID` (ids from `mem0-hooks list`), or --all")
    full = _resolve_id(store, memory_id)
    if not store.delete(full):
        raise FatalError(f"no memory with id {memory_id}")
    print(f"forgot {full}")
    return 0


def _resolve_id(store: Any, prefix: str) -> str:
    """Accept the 12-character prefix that ``list`` shows, when it is unambiguous (local store)."""
    if store.name != "local" or len(prefix) >= 32:
        return prefix
    rows = store.db.execute("SELECT id FROM memories WHERE id LIKE ? LIMIT 2", (prefix + "%",)).fetchall()
    if len(rows) == 1:
        return str(rows[0]["id"])
    if len(rows) > 1:
        raise FatalError(f"id prefix {prefix} is ambiguous; give more characters")
    return prefix
