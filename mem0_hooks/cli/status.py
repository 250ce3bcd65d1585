"""``status``: backend, memory count, queue depth, dead items, last flush, last error (``--json`` for scripts)."""

from __future__ import annotations

import os
import time
from typing import Any

from mem0_hooks import flush, paths, queue
from mem0_hooks.cli._common import ago, load_config, open_store, print_json
from mem0_hooks.config import keeps_local_index
from mem0_hooks.errors import BackendError


def collect() -> dict[str, Any]:
    config = load_config()
    info: dict[str, Any] = {
        "backend": config["backend"],
        "home": paths.home(),
        "user_id": config["user_id"],
        "capture": "on",
        "memories": None,
        "store_error": None,
        "queue_pending": queue.depth(),
        "queue_cap": config["queue"]["max_items"],
        "queue_full": None,
        "queue_dead": queue.depth(queue.DEAD),
        "dead_reasons": [r.get("dead_reason") for r in queue.dead_items()[:5]],
        "flusher_running": flush.flusher_running(),
        "warm_process": _warm(config),
        "project": _project(),
    }
    note = queue.full_note()
    if note or info["queue_pending"] >= info["queue_cap"]:
        info["queue_full"] = {
            "refused": int((note or {}).get("refused") or 0),
            "since": (note or {}).get("first_at"),
            "last_refused_at": (note or {}).get("last_at"),
        }
    from mem0_hooks.gates import read_pauses

    pauses = read_pauses()
    if not config["claude_code"]["memory_integration"]:
        info["capture"] = "off, and recall too (claude_code.memory_integration: false)"
    elif not config["memory"]["auto_store"]:
        info["capture"] = "off (memory.auto_store: false)"
    elif config["privacy"]["require_consent"] and not config["privacy"]["consent_given"]:
        info["capture"] = "off (no consent yet: run `mem0-hooks config set privacy.consent_given true`)"
    elif pauses["global"]:
        info["capture"] = "paused (`mem0-hooks resume` to restart)"
    elif pauses["projects"]:
        info["capture"] = f"on, paused in {len(pauses['projects'])} project(s)"
    try:
        info["memories"] = open_store(config).count()
        info["semantic"] = _semantic_line(config)
    except BackendError as exc:
        info["store_error"] = str(exc)
    from mem0_hooks.cli.doctor import store_size_line

    try:
        info["store_size"] = store_size_line(config) or None
    except Exception as exc:  # noqa: BLE001 - informational
        info["store_size"] = f"unknown ({exc})"
    status = flush.read_status()
    info.update(
        last_flush_at=status.get("last_flush_at"),
        last_delivered_at=status.get("last_delivered_at"),
        last_error=status.get("last_error"),
        last_error_at=status.get("last_error_at"),
        held_until=status.get("held_until"),
        store_failures=status.get("store_failures") or 0,
    )
    if config["backend"] != "local":
        from mem0_hooks import breaker

        info["breaker"] = breaker.status(config["backend"])
    return info


def _project() -> dict[str, Any]:
    """What identifies the project of the current directory (``project_map.describe``)."""
    from mem0_hooks.project import locate
    from mem0_hooks.project_map import describe

    return describe(locate(os.getcwd()))


def _door(home: str, pids: set[int]) -> str:
    """The port of the quick client's door (``warm.Warm.open_door``) when a running warm process holds it."""
    from mem0_hooks import relay

    door = relay.read_door(home)
    return str(door[0]) if door is not None and door[3] in pids else ""


def _warm(config: dict[str, Any]) -> dict[str, Any]:
    """The warm processes serving this data dir (``mem0_hooks.warm``), and a line saying so."""
    from mem0_hooks import relay

    running = [p for p in relay.describe(os.path.abspath(paths.home())) if p["alive"]]
    if not config["claude_code"]["warm_process"]:
        state = "off (claude_code.warm_process: false): every hook does its own work"
    elif running:
        pids = ", ".join(str(p["pid"]) for p in running)
        state = f"running (pid {pids}); exits after {config['claude_code']['warm_process_idle_minutes']:g} idle minutes"
        door = _door(os.path.abspath(paths.home()), {p["pid"] for p in running})
        if door:
            state += f"; the quick client's door is 127.0.0.1:{door}"
    else:
        state = "not running (the next SessionStart or prompt starts it)"
    return {"enabled": config["claude_code"]["warm_process"], "pids": [p["pid"] for p in running], "state": state}


def status(*, as_json: bool) -> int:
    info = collect()
    if as_json:
        print_json(info)
        return 0
    memories = info["memories"] if info["memories"] is not None else f"unknown ({info['store_error']})"
    print(f"backend       {info['backend']}  (user {info['user_id']})")
    print(f"data          {info['home']}")
    print(f"capture       {info['capture']}")
    project = info["project"]
    print(f"project       {project['line']}")
    if project["old_identities"]:
        print(f"              also recalls what was stored under {', '.join(project['old_identities'])}")
    if project["moved"] is False:
        print("              its local memories are being moved to this identity (the flusher finishes it)")
    print(f"memories      {memories}")
    if info.get("semantic"):
        print(f"by meaning    {info['semantic']}")
    if info.get("store_size"):
        print(f"store size    {info['store_size']}")
    print(
        f"queue         {info['queue_pending']} pending (cap {info['queue_cap']}), {info['queue_dead']} dead-lettered"
        + ("  (flusher running)" if info["flusher_running"] else "")
    )
    full = info["queue_full"]
    if full:
        refused = (
            f": {full['refused']} new item(s) refused, last {ago(full['last_refused_at'])}" if full["refused"] else ""
        )
        print(
            f"queue full    cap queue.max_items={info['queue_cap']} reached{refused}; "
            "`mem0-hooks replay` delivers the backlog, or raise queue.max_items"
        )
    for reason in info["dead_reasons"]:
        print(f"  dead: {reason}")
    if info["queue_dead"]:
        print(
            "              once the cause is fixed, `mem0-hooks replay --dead` retries them "
            f"(unreadable ones stay in {queue.dead_dir()})"
        )
    held = info["held_until"]
    if held and held > time.time():
        print(
            f"next try      in {held - time.time():.0f}s (store unavailable, "
            f"{info['store_failures']} failure(s) in a row; `mem0-hooks replay` tries now)"
        )
    warm = info["warm_process"]
    print(f"warm process  {warm['state']}")
    print(f"last flush    {ago(info['last_flush_at'])}, last delivery {ago(info['last_delivered_at'])}")
    if info["last_error"]:
        print(f"last error    {ago(info['last_error_at'])}: {info['last_error']}")
    breaker = info.get("breaker")
    if breaker and breaker.get("open"):
        print(f"breaker       open: recall skips {info['backend']} until it recovers ({breaker.get('reason', '')})")
    return 0


def _semantic_line(config: dict[str, Any]) -> str | None:
    """How far the local store's vectors are (recall by meaning): None when it is not ours to do."""
    from mem0_hooks import recall
    from mem0_hooks.backends.local import LocalStore

    if not keeps_local_index(config):
        return None
    if not recall.semantic_weight(config):
        return "off (memory.semantic): recall is by words only"
    store = LocalStore()
    try:
        total, missing = store.count(), store.missing_vectors()
    finally:
        store.close()
    error = flush.read_status().get("vectors_error")
    if error:
        return f"{total - missing:,} of {total:,} memories embedded; failing: {error}"
    if missing:
        return (
            f"{total - missing:,} of {total:,} memories embedded (the flusher does the rest; `mem0-hooks reindex` now)"
        )
    return f"all {total:,} memories embedded"
