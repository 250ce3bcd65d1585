"""``last``: what the last prompts (and session starts) were given, and why: the memories each block
held, with the scores that ranked them, from the record of injections (``mem0_hooks.injections``)."""

from __future__ import annotations

import sys
import time
from typing import Any

from mem0_hooks import injections
from mem0_hooks.cli._common import load_config, open_store, print_json
from mem0_hooks.errors import BackendError

TEXT_WIDTH = 70


def last(*, limit: int, as_json: bool) -> int:
    if limit < 1:
        from mem0_hooks.cli._common import FatalError

        raise FatalError("-n must be at least 1")
    config = load_config()
    entries = injections.read(limit)
    texts, lookup_error = _texts(config, [m[0] for e in entries for m in e.get("memories") or []])
    if as_json:
        print_json([entry_json(e, texts) for e in entries])
        return 0
    if not entries:
        if not config["memory"]["record_injections"]:
            print("nothing recorded: the record is off (memory.record_injections: false)", file=sys.stderr)
        else:
            print("nothing recorded yet: no prompt or session start has been given memories", file=sys.stderr)
        return 0
    for entry in entries:
        print_entry(entry, texts, looked_up=not lookup_error)
    if lookup_error:
        print(f"(memory texts not shown: {lookup_error})", file=sys.stderr)
    elif not config["memory"]["record_injections"]:
        print("(the record is off now: memory.record_injections: false)", file=sys.stderr)
    return 0


def _texts(config: dict[str, Any], ids: list[str]) -> tuple[dict[str, Any], str]:
    """The memories behind ``ids`` that the store still holds (the local store only: a remote one has
    no cheap read by id), and why none were looked up ("" when they were)."""
    if not ids:
        return {}, ""
    if config["backend"] != "local":
        return {}, f"the {config['backend']} store is not asked for them"
    try:
        return injections.resolve(open_store(config), ids), ""
    except BackendError as exc:
        return {}, str(exc)


def entry_json(entry: dict[str, Any], texts: dict[str, Any]) -> dict[str, Any]:
    """The documented shape of one record in ``last --json``."""
    memories = []
    for memory_id, chars, score in _triples(entry):
        found = texts.get(memory_id)
        memories.append(
            {
                "id": memory_id,
                "chars": chars,
                "score": score,
                "text": None if found is None else found.text,
                "created_at": None if found is None else found.created_at,
                "role": None if found is None else found.role,
            }
        )
    return {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry["at"])),
        "event": entry.get("event"),
        "session": entry.get("session"),
        "project": entry.get("project"),
        "prompt": entry.get("prompt"),
        "source": entry.get("source"),
        "chars": entry.get("chars"),
        "memories": memories,
    }


def _triples(entry: dict[str, Any]) -> list[tuple[str, int | None, float | None]]:
    out = []
    for item in entry.get("memories") or []:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            out.append((item[0], item[1], item[2]))
    return out


def print_entry(entry: dict[str, Any], texts: dict[str, Any], *, looked_up: bool) -> None:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["at"]))
    triples = _triples(entry)
    what = "session start" + (f" ({entry['source']})" if entry.get("source") else "")
    if entry.get("event") == "UserPromptSubmit":
        what = "prompt"
    session = str(entry.get("session") or "")[:8] or "-"
    print(f"{when}  {what}  {injections.clean(str(entry.get('project') or '-'))}  session {injections.clean(session)}")
    if entry.get("prompt"):
        print(f'  "{injections.clean(entry["prompt"])}"')
    count = len(triples)
    print(f"  {count} {'memory' if count == 1 else 'memories'}, {entry.get('chars') or 0:,} characters")
    best = max((s for _, _, s in triples if s is not None), default=None)
    for memory_id, chars, score in triples:
        if score is None:
            ranked = "     -      "
        else:
            share = f"{score / best:5.0%}" if best else "    -"
            ranked = f"{score:7.2f}{share}"
        found = texts.get(memory_id)
        if found is None:
            about = "(forgotten)" if looked_up else ""
        else:
            about = f"[{found.created_at[:10]} {found.role}] {injections.clean(found.text)}"
            if len(about) > TEXT_WIDTH:
                about = about[: TEXT_WIDTH - 1] + "\u2026"
        print(f"    {ranked} {chars or 0:6,} ch  {memory_id[:12]}  {about}".rstrip())
    print()
