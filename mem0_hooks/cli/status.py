"""``status``: backend, memory count, queue depth, dead items, last flush, last error (``--json`` for scripts)."""

from __future__ import annotations

from typing import Any

from mem0_hooks import flush, paths, queue
from mem0_hooks.cli._common import ago, load_config, open_store, print_json
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
        "queue_dead": queue.depth(queue.DEAD),
        "dead_reasons": [r.get("dead_reason") for r in queue.dead_items()[:5]],
        "flusher_running": flush.flusher_running(),
    }
    from mem0_hooks.gates import read_pauses

    pauses = read_pauses()
    if not config["memory"]["auto_store"]:
        info["capture"] = "off (memory.auto_store: false)"
    elif config["privacy"]["require_consent"] and not config["privacy"]["consent_given"]:
        info["capture"] = "off (no consent yet: run `mem0-hooks config set privacy.consent_given true`)"
    elif pauses["global"]:
        info["capture"] = "paused (`mem0-hooks resume` to restart)"
    elif pauses["projects"]:
        info["capture"] = f"on, paused in {len(pauses['projects'])} project(s)"
    try:
        info["memories"] = open_store(config).count()
    except BackendError as exc:
        info["store_error"] = str(exc)
    status = flush.read_status()
    info.update(
        last_flush_at=status.get("last_flush_at"),
        last_delivered_at=status.get("last_delivered_at"),
        last_error=status.get("last_error"),
        last_error_at=status.get("last_error_at"),
        held_until=status.get("held_until"),
    )
    if config["backend"] != "local":
        from mem0_hooks import breaker

        info["breaker"] = breaker.status(config["backend"])
    return info


def status(*, as_json: bool) -> int:
    info = collect()
    if as_json:
        print_json(info)
        return 0
    memories = info["memories"] if info["memories"] is not None else f"unknown ({info['store_error']})"
    print(f"backend       {info['backend']}  (user {info['user_id']})")
    print(f"data          {info['home']}")
    print(f"capture       {info['capture']}")
    print(f"memories      {memories}")
    print(f"queue         {info['queue_pending']} pending, {info['queue_dead']} dead-lettered"
          + ("  (flusher running)" if info["flusher_running"] else ""))
    for reason in info["dead_reasons"]:
        print(f"  dead: {reason}")
    print(f"last flush    {ago(info['last_flush_at'])}, last delivery {ago(info['last_delivered_at'])}")
    if info["last_error"]:
        print(f"last error    {ago(info['last_error_at'])}: {info['last_error']}")
    breaker = info.get("breaker")
    if breaker and breaker.get("open"):
        print(f"breaker       open: recall skips {info['backend']} until it recovers ({breaker.get('reason', '')})")
    return 0
