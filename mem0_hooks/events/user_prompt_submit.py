"""UserPromptSubmit: capture the prompt (the reliable copy of it) and inject what is relevant to it."""

from __future__ import annotations

from mem0_hooks import config as config_mod
from mem0_hooks import session
from mem0_hooks.errors import QueueError
from mem0_hooks.events.runner import after_reply, context_output, text_field
from mem0_hooks.gates import may_capture, may_recall
from mem0_hooks.project import project_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENT = "UserPromptSubmit"


def user_prompt_submit(data: dict[str, Any]) -> dict[str, Any] | None:
    """Enqueue the prompt, then return the recalled-memory context for it (None for nothing)."""
    config = config_mod.load()
    prompt = text_field(data, "prompt")
    session_id = text_field(data, "session_id")
    project = project_of(text_field(data, "cwd"))
    if not prompt.strip():
        return None
    state = session.load(session_id) if session_id else {}
    changed = False
    capture = None
    if session_id and may_capture(config, project):
        from mem0_hooks.capture import make_item

        item = make_item(
            text=prompt, role="user", session_id=session_id, project=project,
            seq=session.next_seq(state), config=config,
        )
        if item is not None:
            capture = _Capture(item, config)  # on disk (fsync) while the search runs
    block = ""
    try:
        query = _search_text(prompt, config)
        if config["memory"]["search_on_query"] and may_recall(config, project) and not _trivial(query, config):
            from mem0_hooks import recall

            block, ids = recall.for_prompt(query, session_id=session_id, project=project, config=config, state=state)
            if ids:
                state.setdefault("injected", []).extend(ids)
                changed = True
    finally:
        if capture is not None and capture.wait():  # whatever recall did, the prompt is on disk first
            state.setdefault("prompts", []).append(capture.item["id"])
            state["prompts"] = state["prompts"][-50:]
            changed = True
    if changed and session_id:
        after_reply(lambda: session.save(session_id, state))  # what was shown: Claude need not wait for it
    return context_output(data, EVENT, block) if block else None


class _Capture:
    """Enqueue one item on a thread: the queue write waits on the disk (two fsyncs) and the search on
    the CPU, so they overlap. ``wait`` returns whether the item is on disk; the hook waits for it
    before answering, so a captured prompt is durable before Claude Code moves on."""

    def __init__(self, item: dict[str, Any], config: dict[str, Any]) -> None:
        import _thread  # the C module: ``threading`` would cost more to import than the overlap saves

        self.item, self.config, self.stored = item, config, False
        self.done = _thread.allocate_lock()
        self.done.acquire()
        _thread.start_new_thread(self._run, ())

    def _run(self) -> None:
        try:
            from mem0_hooks.capture import enqueue_items

            enqueue_items([self.item], self.config)
            self.stored = True
        except QueueError as exc:
            # A full queue or disk must not cost the user their recall: log, carry on.
            from mem0_hooks.log import log

            log(f"{EVENT}: prompt not captured: {exc}", level="WARNING")
        except BaseException as exc:  # noqa: BLE001 - a thread's failure would otherwise vanish
            from mem0_hooks.log import log_exception

            log_exception(f"{EVENT} capture", exc)
        finally:
            self.done.release()

    def wait(self) -> bool:
        self.done.acquire()
        self.done.release()
        return self.stored


def _search_text(prompt: str, config: dict[str, Any]) -> str:
    """The prompt as it may leave this process: the search query goes to the store, which may log it and
    quote it back in its errors (into our log and breaker state). ``<private>`` spans and secrets are
    scrubbed as for capture, and the markers that replace them dropped, so they are not search words."""
    from mem0_hooks.redact import scrub

    query = scrub(prompt, config["privacy"]["redact_patterns"])
    if "[" in query:
        import re

        query = re.sub(r"\[(?:REDACTED:[a-z0-9-]+|PRIVATE)\]", " ", query)
    return query


def _trivial(prompt: str, config: dict[str, Any]) -> bool:
    """Whether the prompt is too slight to search with ("ok", "continue", "/clear").

    ``recall.for_prompt`` makes the same test first; asking here skips even importing recall (and the
    store behind it) on the commonest prompts of a session.
    """
    from mem0_hooks.local_query import is_trivial

    return is_trivial(prompt, config["memory"]["min_prompt_words"])
