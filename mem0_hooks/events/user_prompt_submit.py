"""UserPromptSubmit: capture the prompt (the reliable copy of it) and inject what is relevant to it."""

from __future__ import annotations

from mem0_hooks import config as config_mod
from mem0_hooks import session
from mem0_hooks.errors import QueueError
from mem0_hooks.events.runner import after_reply, context_output, text_field
from mem0_hooks.gates import may_capture, may_recall
from mem0_hooks.project import locate
from mem0_hooks.project_map import settle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENT = "UserPromptSubmit"


def user_prompt_submit(data: dict[str, Any]) -> dict[str, Any] | None:
    """Enqueue the prompt, then return the recalled-memory context for it (None for nothing)."""
    config = config_mod.load()
    if not config["claude_code"]["memory_integration"]:
        return None  # every hook switched off
    prompt = text_field(data, "prompt")
    session_id = text_field(data, "session_id")
    place = locate(text_field(data, "cwd"))
    project = place.id  # what memories are stored under; opt-outs look at place.root
    if not prompt.strip():
        return None
    recalls = may_recall(config, place)
    if recalls:
        settle(place, config)  # a directory seen for the first time: its old memories move to its identity
    state = session.load(session_id) if session_id else {}
    captures = bool(session_id) and may_capture(config, place)
    if captures:
        _capture(prompt, session_id, project, state, config)
        after_reply(lambda: session.save(session_id, state))  # Claude need not wait for the bookkeeping
    scrubbed = _scrubbed(prompt, config)
    query = _search_text(scrubbed)
    if not config["memory"]["search_on_query"] or not recalls or _trivial(query, config):
        return None
    from mem0_hooks import recall

    shown: list[Any] | None = [] if config["memory"]["record_injections"] else None
    block, ids = recall.for_prompt(
        query, session_id=session_id, project=project, config=config, state=state, shown=shown
    )
    if ids and session_id:
        state.setdefault("injected", []).extend(ids)  # saved after the answer (above, or here)
        if not captures:
            after_reply(lambda: session.save(session_id, state))
    if block and shown is not None:
        after_reply(lambda: _record(session_id, project, scrubbed, shown, len(block)))
    return context_output(data, EVENT, block) if block else None


def _record(session_id: str, project: str, prompt: str, shown: list[Any], chars: int) -> None:
    """Add the block to the record of injections (``mem0_hooks.injections``), after the answer."""
    from mem0_hooks import injections

    injections.record(EVENT, session_id=session_id, project=project, shown=shown, block_chars=chars, prompt=prompt)


def _capture(prompt: str, session_id: str, project: str, state: dict[str, Any], config: dict[str, Any]) -> None:
    """Put the prompt in the queue before anything else: it is in place (no process dying can lose it)
    before the hook answers, and flushed to the device (fsync) once it has."""
    from mem0_hooks.capture import enqueue_items, make_item

    item = make_item(
        text=prompt, role="user", session_id=session_id, project=project, seq=session.next_seq(state), config=config
    )
    if item is None:
        return
    try:
        enqueue_items([item], config, sync=False)
    except QueueError as exc:
        # A full queue or disk must not cost the user their recall: log, carry on.
        from mem0_hooks.log import log

        log(f"{EVENT}: prompt not captured: {exc}", level="WARNING")
    except Exception as exc:  # noqa: BLE001 - nor may a fault in capture: recall goes on
        from mem0_hooks.log import log_exception

        log_exception(f"{EVENT} capture", exc)
    finally:
        from mem0_hooks.queue import sync_written

        after_reply(sync_written)


def _scrubbed(prompt: str, config: dict[str, Any]) -> str:
    """The prompt as it may leave this process or be written down (the search, the record of
    injections): ``<private>`` spans and secrets scrubbed as for capture. The search goes to the store,
    which may log it and quote it back in its errors (into our log and breaker state)."""
    from mem0_hooks.redact import scrub

    return scrub(prompt, config["privacy"]["redact_patterns"])


def _search_text(scrubbed: str) -> str:
    """The search query: the scrubbed prompt without the markers that replaced secrets and private
    spans, so they are not search words."""
    query = scrubbed
    if "[" in query:
        import re

        query = re.sub(r"\[(?:REDACTED:[a-z0-9-]+|PRIVATE)\]", " ", query)
    return query


def _trivial(prompt: str, config: dict[str, Any]) -> bool:
    """Whether the prompt is too slight to search with ("ok", "continue", "/clear").

    ``recall.for_prompt`` makes the same test first; asking here skips even importing recall (and the
    store behind it) on the commonest prompts of a session.
    """
    from mem0_hooks.ranking.query import is_trivial

    return is_trivial(prompt, config["memory"]["min_prompt_words"])
