"""The five memory tools the model can call (served by ``mem0_hooks.mcp_server``), as plain functions.

Each takes arguments already checked for type, the project (``project.project_of``, as the hooks
identify it) and the config; returns a JSON-able dict; and raises ``ToolFailed`` with a one-line
reason the model can act on. Store errors (``BackendError``, ``QueueError``) are left to the caller,
which words them the same way for every tool. They share their paths with the hooks and the CLI:
``recall.search`` ranks as the hooks do, ``capture.note`` scrubs and queues as capture does, and the
flusher delivers (exactly once, after an outage too).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mem0_hooks.errors import Mem0HooksError

if TYPE_CHECKING:
    from mem0_hooks.project import Project

SEARCH_LIMIT = 10  # results of one search_memory call
LIST_PAGE = 20  # list_memories' default page
MAX_PAGE = 50
MAX_OFFSET = 100_000
TEXT_CHARS = 2_000  # a longer memory is shown cut, with "truncated": true (the answer stays under ~25k chars)
MAX_QUERY_CHARS = 4_000
MAX_NOTE_CHARS = 20_000  # a note is a fact or a decision, not a file
MAX_IDS = 100
# How long add_memories waits for the flusher to confirm delivery before answering "queued": a local
# store takes a flusher start (a few hundred ms); a remote one a request.
ADD_WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05


class ToolFailed(Mem0HooksError):
    """A tool cannot do what it was asked; the message is the one line the model sees."""


def _shown(memory: Any, *, with_score: bool) -> dict[str, Any]:
    text = memory.text
    shown: dict[str, Any] = {"id": memory.id, "text": text[:TEXT_CHARS], "role": memory.role, "date": memory.created_at}
    if with_score:
        shown["score"] = None if memory.score is None else round(float(memory.score), 4)
    if memory.scope == "user":
        shown["scope"] = "user"  # a user-wide memory: recalled in every project
    if len(text) > TEXT_CHARS:
        shown["truncated"] = True
    return shown


def check_project(place: Project | str, config: dict[str, Any]) -> None:
    """Refuse in a project that opted out of memory, as the hooks do (``place``: ``project.locate``'s
    answer, or a project directory: opt-outs are about the directory on this machine)."""
    from mem0_hooks.gates import may_recall

    if not may_recall(config, place):
        where = place if isinstance(place, str) else place.root
        raise ToolFailed(
            f"memory is switched off for {where} (a .mem0-hooks-ignore file or privacy.exclude_projects); "
            "nothing is searched or stored here"
        )


def search_memory(query: str, *, project: str, config: dict[str, Any]) -> dict[str, Any]:
    """This project's and the user-wide memories that match ``query``, best first."""
    if not query.strip():
        raise ToolFailed("query is empty: say what to look for, e.g. 'retry policy for the payment client'")
    if len(query) > MAX_QUERY_CHARS:
        raise ToolFailed(f"query is {len(query):,} characters; at most {MAX_QUERY_CHARS:,}: search with key words")
    from mem0_hooks import recall

    found = recall.search(query, project=project, config=config, limit=SEARCH_LIMIT)[:SEARCH_LIMIT]
    return {"project": project, "count": len(found), "memories": [_shown(m, with_score=True) for m in found]}


def list_memories(*, offset: int, limit: int, project: str, store: Any) -> dict[str, Any]:
    """One page of this project's memories, newest first; ``next_offset`` is null on the last page."""
    if offset < 0 or offset > MAX_OFFSET:
        raise ToolFailed(f"offset must be between 0 and {MAX_OFFSET:,}, got {offset}")
    if not 1 <= limit <= MAX_PAGE:
        raise ToolFailed(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    page, more = page_of(store, project=project, offset=offset, limit=limit)
    return {
        "project": project,
        "offset": offset,
        "count": len(page),
        "next_offset": offset + limit if more else None,
        "memories": [_shown(m, with_score=False) for m in page],
    }


def page_of(store: Any, *, project: str | None, offset: int, limit: int) -> tuple[list[Any], bool]:
    """One page of memories (of ``project``; every one for None), newest first, and whether more follow.
    The local store reads just the page; a remote one is listed up to its end (its API pages by itself)."""
    if store.name == "local":
        found = store.list(project=project, limit=limit + 1, offset=offset)  # one more: is there a next page?
        return found[:limit], len(found) > limit
    found = store.list(project=project, limit=offset + limit + 1)
    return found[offset : offset + limit], len(found) > offset + limit


def add_memories(
    text: str, *, project: str, config: dict[str, Any], wait: float = ADD_WAIT_SECONDS, user_wide: bool = False
) -> dict[str, Any]:
    """Queue a note for this project (every project: ``user_wide``, the viewer's choice) and start the
    flusher; say whether the store confirmed it in time."""
    if not text.strip():
        raise ToolFailed("text is empty: give the fact or decision to remember, in one or a few sentences")
    if len(text) > MAX_NOTE_CHARS:
        raise ToolFailed(
            f"text is {len(text):,} characters; a memory holds at most {MAX_NOTE_CHARS:,}: save the gist, not the file"
        )
    from mem0_hooks import capture, flush, queue

    item = capture.note(text, project=project, user_wide=user_wide, config=config)
    if item is None:
        raise ToolFailed("nothing left to remember once secrets and <private> spans were removed")
    flush.spawn()
    answer = {"id": item["id"], "project": project, "text": item["text"]}
    deadline = time.monotonic() + wait
    state = queue.where(item["id"])
    while state == queue.PENDING and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        state = queue.where(item["id"])
    if state is None:
        return dict(answer, status="stored")
    if state == queue.DEAD:
        reason = next(
            (r.get("dead_reason") for r in queue.dead_items() if (r.get("item") or {}).get("id") == item["id"]), None
        )
        raise ToolFailed(f"the {config['backend']} store refused the note: {reason or 'see `mem0-hooks status`'}")
    return dict(
        answer,
        status="queued",
        note=f"saved in the local queue; the {config['backend']} store has not confirmed it yet and it is "
        "delivered (once) as soon as the store answers",
    )


def delete_memories(memory_ids: list[str], *, project: str, store: Any) -> dict[str, Any]:
    """Forget the given memories of this project (or user-wide ones); unknown ids are reported."""
    if not memory_ids:
        raise ToolFailed("memory_ids is empty: give the ids from search_memory or list_memories")
    if len(memory_ids) > MAX_IDS:
        raise ToolFailed(f"{len(memory_ids)} ids in one call; at most {MAX_IDS}: delete in batches")
    if any(not i.strip() for i in memory_ids):
        raise ToolFailed("memory_ids holds an empty id")
    wanted = list(dict.fromkeys(memory_ids))
    deleted: list[str] = []
    not_found: list[str] = []
    for memory_id in wanted:
        if store.name == "local" and not _local_in_reach(store, memory_id, project):
            not_found.append(memory_id)  # another project's: out of reach, as if it did not exist
        elif store.delete(memory_id):
            deleted.append(memory_id)
        else:
            not_found.append(memory_id)
    if not deleted:
        shown = ", ".join(not_found[:5]) + (" ..." if len(not_found) > 5 else "")
        raise ToolFailed(
            f"no memory of this project has the id(s) {shown}: take ids from search_memory or list_memories"
        )
    return {"project": project, "deleted": deleted, "not_found": not_found}


def _local_in_reach(store: Any, memory_id: str, project: str) -> bool:
    """Whether the local memory ``memory_id`` is this project's or a user-wide one."""
    row = store.db.execute("SELECT project, scope FROM memories WHERE id = ?", (memory_id,)).fetchone()
    return row is not None and (row["project"] == project or row["scope"] == "user")


def delete_all_memories(*, project: str, store: Any) -> dict[str, Any]:
    """Forget every memory of this project; other projects and user-wide memories stay."""
    if not project or not project.strip():
        raise ToolFailed(f"no project to forget ({project!r})")  # never delete_all(project=None): that is every project
    count = store.delete_all(project=project)
    from mem0_hooks import injections

    injections.forget(project=project)  # the record of what this project's prompts were shown
    return {"project": project, "deleted": count}
