"""Incremental, defensive reader of Claude Code's transcript JSONL.

Only the bytes after the offset saved at the last capture are read; a half-written last line is left
for next time. The format is internal to Claude Code and changes between releases, so every field is
optional here: a line that does not look like a user or assistant turn is skipped, never an error.
What is skipped: tool calls and results, sidechains, meta lines, compact summaries, slash-command
markers, interrupted-request notes, and any ``<system-reminder>`` (where older releases put hook context,
ours included).
"""

from __future__ import annotations

import os
import stat

from mem0_hooks import fastjson as json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# A first capture of a huge transcript reads only its tail: a hook must return quickly.
MAX_READ_BYTES = 32 * 1024 * 1024

_COMMAND_MARKERS = (
    "<command-name>",
    "<command-message>",
    "<command-args>",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "<bash-input>",
    "<bash-stdout>",
    "<bash-stderr>",
    "[Request interrupted",
    "Caveat: The messages below were generated",
)
_REMINDER_OPEN = "<system-reminder>"
_REMINDER_CLOSE = "</system-reminder>"


class Turn:
    """One user or assistant turn read from the transcript.

    A plain class rather than a dataclass: ``dataclasses`` imports ``inspect`` and half the standard
    library, which the Stop hook would pay for on every turn.
    """

    __slots__ = ("role", "text", "timestamp", "message_id", "cwd")

    def __init__(self, role: str, text: str, timestamp: str = "", message_id: str = "", cwd: str = "") -> None:
        self.role = role
        self.text = text
        self.timestamp = timestamp
        self.message_id = message_id
        self.cwd = cwd  # the working directory the line was written in ("" when the line has none)

    def __repr__(self) -> str:
        return (
            f"Turn(role={self.role!r}, text={self.text!r}, timestamp={self.timestamp!r}, "
            f"message_id={self.message_id!r}, cwd={self.cwd!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Turn):
            return NotImplemented
        return (self.role, self.text, self.timestamp, self.message_id, self.cwd) == (
            other.role,
            other.text,
            other.timestamp,
            other.message_id,
            other.cwd,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces


def read_new_turns(path: str, offset: int = 0) -> tuple[list[Turn], int]:
    """Turns in ``path`` after byte ``offset``, and the offset to resume from next time.

    A missing file, a directory or a FIFO gives ``([], offset)``; a file shorter than ``offset``
    (rewritten) is read from the start.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return [], offset
    if not stat.S_ISREG(st.st_mode):
        return [], offset
    size = st.st_size
    if offset > size:
        offset = 0
    if size == offset:
        return [], offset
    start = max(offset, size - MAX_READ_BYTES)
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(size - start)
    if start > offset and start > 0:
        cut = data.find(b"\n")
        if cut < 0:
            return [], offset
        data = data[cut + 1 :]
        start += cut + 1
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset  # only a partial line so far
    complete = data[: end + 1]
    return parse_lines(complete.split(b"\n")), start + end + 1


def parse_lines(
    lines: Iterable[bytes], *, bad: dict[str, int] | None = None, turns: list[Turn] | None = None
) -> list[Turn]:
    """The conversation in these JSONL lines, blocks of one API message joined into one turn.

    ``bad`` counts the lines that could hold a turn but are not JSON (``"invalid JSON"``) or not UTF-8
    (``"invalid UTF-8"``); they are skipped either way. ``turns`` continues a list from earlier lines of
    the same file (``mem0-hooks import`` reads a file in blocks): an API message whose blocks straddle
    two reads still becomes one turn. Returns the list the turns were added to.
    """
    if turns is None:
        turns = []
    for raw in lines:
        # Cheap filters before json.loads: tool results are the bulk of a transcript.
        if not raw or (b'"user"' not in raw and b'"assistant"' not in raw):
            continue
        if b'"tool_result"' in raw:
            continue
        try:
            entry = json.loads(raw)
        except ValueError as exc:
            if bad is not None:
                reason = "invalid UTF-8" if isinstance(exc, UnicodeDecodeError) else "invalid JSON"
                bad[reason] = bad.get(reason, 0) + 1
            continue
        turn = _turn(entry)
        if turn is None:
            continue
        last = turns[-1] if turns else None
        if (
            last is not None
            and turn.role == "assistant"
            and last.role == "assistant"
            and turn.message_id
            and turn.message_id == last.message_id
        ):
            last.text = f"{last.text}\n{turn.text}" if last.text else turn.text
            continue
        turns.append(turn)
    return turns


def _turn(entry: object) -> Turn | None:
    if not isinstance(entry, dict):
        return None
    kind = entry.get("type")
    if kind not in ("user", "assistant"):
        return None
    if entry.get("isSidechain") or entry.get("isMeta") or entry.get("isCompactSummary"):
        return None
    if entry.get("isVisibleInTranscriptOnly"):
        return None
    message = entry.get("message")
    if not isinstance(message, dict):
        return None
    text = _text_of(message.get("content"))
    if kind == "user":
        text = _drop_system_reminders(text)
    text = text.strip()
    if not text or text.startswith(_COMMAND_MARKERS):
        return None
    timestamp = entry.get("timestamp")
    message_id = message.get("id") if kind == "assistant" else ""
    cwd = entry.get("cwd")
    return Turn(
        role=kind,
        text=text,
        timestamp=timestamp if isinstance(timestamp, str) else "",
        message_id=message_id if isinstance(message_id, str) else "",
        cwd=cwd if isinstance(cwd, str) else "",
    )


def _drop_system_reminders(text: str) -> str:
    """``text`` without its ``<system-reminder>...</system-reminder>`` spans (an unclosed one runs to the end)."""
    start = text.find(_REMINDER_OPEN)
    if start < 0:
        return text
    kept = []
    at = 0
    while start >= 0:
        kept.append(text[at:start])
        end = text.find(_REMINDER_CLOSE, start + len(_REMINDER_OPEN))
        if end < 0:
            at = len(text)
            break
        at = end + len(_REMINDER_CLOSE)
        start = text.find(_REMINDER_OPEN, at)
    kept.append(text[at:])
    return "".join(kept)


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "\n".join(parts)
