"""The shell around every hook: stdin in, one JSON object (or nothing) out, always exit 0.

Imports are a budget here (every module a hook imports is paid on every prompt; see
``bench/hooks.py``): this module and the event modules import nothing from ``typing`` at run time
(annotations are strings; the names exist for type checkers only) and use ``_signal`` rather than
``signal``, whose enum wrappers would pull in ``enum`` for two calls.
"""

from __future__ import annotations

import os
import sys

from mem0_hooks import fastjson as json
from mem0_hooks.relay import log_warning

try:
    import _signal as signal  # the C module behind ``signal``: same calls, no enum import
except ImportError:  # pragma: no cover - an interpreter without it
    import signal  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_INPUT_BYTES = 16 * 1024 * 1024
CONTEXT_EVENTS = ("SessionStart", "UserPromptSubmit")


class _Deadline(BaseException):
    """The hook ran past its own time limit (set below Claude Code's timeout). A ``BaseException``, so
    that no ``except Exception`` on the way (a capture that must not cost recall) swallows it."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Deadline()


def run(event: str, handler: Callable[[dict[str, Any]], dict[str, Any] | None], *, seconds: int = 8) -> int:
    """Run ``handler`` on the hook input; print its output; log failures; return 0 whatever happens."""
    try:
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES)
    except BaseException:  # noqa: BLE001 - no input to act on
        raw = b""
    write_output(respond(event, handler, raw, seconds=seconds))
    finish()
    return 0


def respond(
    event: str, handler: Callable[[dict[str, Any]], dict[str, Any] | None], raw: bytes, *, seconds: int = 8
) -> str:
    """What the hook prints for input ``raw``: the handler's JSON, or ``""``. Never raises.

    ``seconds`` bounds the handler (SIGALRM, so this must run on the main thread); failures are logged.
    Shared by the hook process (``run``) and the warm process (``mem0_hooks.warm``).
    """
    os.umask(0o077)  # everything a hook writes holds conversation text: owner only
    output = ""
    try:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(seconds)
        try:
            data = json.loads(raw.decode("utf-8", "replace")) if raw.strip() else None
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            data = None
        if not isinstance(data, dict):
            log_warning(f"{event}: input is not a JSON object; nothing done")
            return ""
        result = handler(data)
        if result:
            output = json.dumps(result, ensure_ascii=False)
    except _Deadline:
        log_warning(f"{event}: gave up after {seconds}s (internal deadline); nothing injected")
        output = ""
    except BaseException as exc:  # noqa: BLE001 - a hook must never fail the user's session
        output = ""
        try:
            from mem0_hooks.log import log_exception

            log_exception(event, exc)
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            signal.alarm(0)
        except BaseException:  # noqa: BLE001
            pass
    return output


_AFTER_REPLY: list[Callable[[], object]] = []


def after_reply(work: Callable[[], object]) -> None:
    """Have ``work`` done once the hook's answer is out (``finish``), not while Claude Code waits for it.

    For bookkeeping a lost run of would cost nothing but a little precision (which memories a session
    was already shown), and for flushing to the device what is already written; never for writing a
    capture, which must be in place before the hook answers.
    """
    _AFTER_REPLY.append(work)


def finish() -> None:
    """Do the work ``after_reply`` put off; failures are logged, never raised."""
    while _AFTER_REPLY:
        work = _AFTER_REPLY.pop(0)
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - the answer is out; nothing may fail the hook now
            try:
                from mem0_hooks.log import log_exception

                log_exception("after reply", exc)
            except BaseException:  # noqa: BLE001
                pass


def write_output(output: str) -> None:
    """Print the hook's answer for Claude Code (nothing for ``""``); a closed stdout is not an error."""
    if output:
        try:
            sys.stdout.write(output)
            sys.stdout.flush()
        except BaseException:  # noqa: BLE001 - Claude Code went away; nothing to do
            pass


def context_output(data: dict[str, Any], event: str, text: str) -> dict[str, Any]:
    """The JSON Claude Code expects; ``hookEventName`` must equal the firing event or it is all dropped."""
    name = data.get("hook_event_name")
    if name not in CONTEXT_EVENTS:
        name = event
    return {"hookSpecificOutput": {"hookEventName": name, "additionalContext": text}}


def text_field(data: dict[str, Any], key: str) -> str:
    """A string field of the input ("" when missing or not a string; NUL bytes dropped, lone surrogates replaced)."""
    value = data.get(key)
    if not isinstance(value, str):
        return ""
    value = value.replace("\x00", "")
    if not value.isascii():
        # "\ud800" in the JSON is a lone surrogate here, which no UTF-8 encoder (nor SQLite) takes.
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def main_for(event: str, handler: Callable[[dict[str, Any]], dict[str, Any] | None], seconds: int = 8) -> None:
    """Entry point used by ``hooks/*.py``: never raises, always exits 0."""
    code = run(event, handler, seconds=seconds)
    try:
        sys.stdout.close()
    except BaseException:  # noqa: BLE001
        pass
    os._exit(code)  # skip interpreter teardown: a hook's exit is on the user's critical path
