"""The transcript reader: only new bytes, half-written lines left for later, noise skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mem0_hooks.transcript import read_new_turns


def line(kind: str, content, **extra) -> str:
    entry = {
        "type": kind,
        "uuid": "u",
        "sessionId": "s",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "message": {"role": kind, "content": content},
    }
    entry.update(extra)
    return json.dumps(entry) + "\n"


def test_reads_user_and_assistant_turns_with_their_time(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line("user", "hello there") + line("assistant", [{"type": "text", "text": "hi!"}]))
    turns, offset = read_new_turns(str(path), 0)
    assert [(t.role, t.text) for t in turns] == [("user", "hello there"), ("assistant", "hi!")]
    assert turns[0].timestamp == "2026-11-20T10:00:00.000Z"
    assert offset == path.stat().st_size


def test_only_new_bytes_are_read_and_a_partial_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line("user", "first"))
    turns, offset = read_new_turns(str(path), 0)
    assert [t.text for t in turns] == ["first"]
    second = line("user", "second")
    with open(path, "a") as fh:
        fh.write(second[:20])  # Claude Code is still writing this line
    turns, offset2 = read_new_turns(str(path), offset)
    assert turns == [] and offset2 == offset
    with open(path, "a") as fh:
        fh.write(second[20:])
    turns, offset3 = read_new_turns(str(path), offset2)
    assert [t.text for t in turns] == ["second"]
    assert offset3 == path.stat().st_size


def test_noise_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        line("user", "real question")
        + line("user", [{"type": "tool_result", "tool_use_id": "x", "content": "file contents"}])
        + line("assistant", [{"type": "tool_use", "id": "t", "name": "Read", "input": {}}])
        + line("assistant", [{"type": "thinking", "thinking": "hmm", "signature": "s"}])
        + line("user", "sidechain text", isSidechain=True)
        + line("user", "meta caveat", isMeta=True)
        + line("user", "This session is being continued... summary", isCompactSummary=True)
        + line("user", "<command-name>/clear</command-name>")
        + line("user", "<local-command-stdout>done</local-command-stdout>")
        + json.dumps(
            {
                "type": "attachment",
                "attachment": {"type": "hook_additional_context", "content": ["<recalled-memories>x"]},
            }
        )
        + "\n"
        + json.dumps({"type": "system", "subtype": "stop_hook_summary"})
        + "\n"
        + "not json at all\n"
        + line("user", "before <system-reminder>UserPromptSubmit hook additional context: old</system-reminder> after")
        + line("assistant", [{"type": "text", "text": "real answer"}])
    )
    turns, _ = read_new_turns(str(path), 0)
    assert [(t.role, t.text) for t in turns] == [
        ("user", "real question"),
        ("user", "before  after"),
        ("assistant", "real answer"),
    ]


def test_blocks_of_one_api_message_become_one_turn(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    msg = lambda text: (
        json.dumps(
            {
                "type": "assistant",
                "message": {"id": "msg_1", "role": "assistant", "content": [{"type": "text", "text": text}]},
            }
        )
        + "\n"
    )
    path.write_text(msg("part one") + msg("part two"))
    turns, _ = read_new_turns(str(path), 0)
    assert [t.text for t in turns] == ["part one\npart two"]


def test_missing_directory_fifo_and_rewritten_files(tmp_path: Path) -> None:
    assert read_new_turns(str(tmp_path / "absent.jsonl"), 5) == ([], 5)
    assert read_new_turns(str(tmp_path), 0) == ([], 0)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_new_turns(str(fifo), 0) == ([], 0)  # would block forever if opened
    path = tmp_path / "t.jsonl"
    path.write_text(line("user", "after rewrite"))
    turns, _ = read_new_turns(str(path), 10_000)  # offset past the end: the file was replaced
    assert [t.text for t in turns] == ["after rewrite"]


def test_a_turn_carries_its_working_directory(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line("user", "in the repo", cwd="/work/repo") + line("user", "no cwd on this line"))
    turns, _ = read_new_turns(str(path), 0)
    assert [t.cwd for t in turns] == ["/work/repo", ""]


def test_parse_lines_counts_what_it_cannot_read_and_continues_a_list() -> None:
    from mem0_hooks.transcript import parse_lines

    bad: dict[str, int] = {}
    block = {"type": "assistant", "message": {"id": "m1", "role": "assistant", "content": [{"type": "text"}]}}
    first = json.dumps({**block, "message": {**block["message"], "content": [{"type": "text", "text": "one"}]}})
    second = json.dumps({**block, "message": {**block["message"], "content": [{"type": "text", "text": "two"}]}})
    turns = parse_lines([line("user", "q").encode(), b'{"type": "user", "message"', first.encode()], bad=bad)
    turns = parse_lines([b'{"type": "user", "x": "\xff"}', b'{"no": "turn"}', second.encode()], bad=bad, turns=turns)
    assert [(t.role, t.text) for t in turns] == [("user", "q"), ("assistant", "one\ntwo")]
    assert bad == {"invalid JSON": 1, "invalid UTF-8": 1}
