"""The test harness itself: the mock Messages API on its own, then the real CLI running against it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.claude_cli import (
    MODEL,
    hook_events,
    python_hook_command,
    result_text,
    run_claude,
    write_user_settings,
)
from tests.support.mock_anthropic import MockAnthropic


def _post(url: str, body: dict[str, Any]) -> tuple[str, str]:
    """POST JSON; return the response's content type and body text."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse an SSE body into (event name, data) pairs."""
    events = []
    for chunk in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


# --- the mock alone: no CLI needed -------------------------------------------------------------


def test_mock_streams_the_reply_as_sse() -> None:
    reply = "A reply long enough to be split over several text deltas."
    with MockAnthropic(reply=reply) as api:
        content_type, body = _post(f"{api.base_url}/v1/messages?beta=true", {"model": "m", "stream": True})
    events = _sse(body)
    names = [name for name, _ in events]
    assert content_type == "text/event-stream"
    assert names[:2] == ["message_start", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") > 1
    assert "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta") == reply
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert events[0][1]["message"]["model"] == "m"


def test_mock_answers_plain_json_and_records_requests() -> None:
    with MockAnthropic(reply=lambda body: f"echo {body['messages'][0]['content']}") as api:
        body = {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        content_type, text = _post(f"{api.base_url}/v1/messages", body)
    message = json.loads(text)
    assert content_type == "application/json"
    assert message["content"] == [{"type": "text", "text": "echo ping"}]
    assert message["stop_reason"] == "end_turn"
    assert api.requests == [body]
    assert json.loads(api.raw_bodies[0]) == body


def test_mock_answers_count_tokens_and_other_paths_without_recording_them() -> None:
    with MockAnthropic() as api:
        _, counted = _post(f"{api.base_url}/v1/messages/count_tokens", {"messages": []})
        for method in ("GET", "HEAD"):
            request = urllib.request.Request(f"{api.base_url}/api/hello", method=method)
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
                assert response.read() == (b"{}" if method == "GET" else b"")
    assert json.loads(counted)["input_tokens"] > 0
    assert api.requests == []
    assert [method for method, _ in api.log] == ["POST", "GET", "HEAD"]


# --- the real CLI against the mock ------------------------------------------------------------


def test_print_mode_returns_the_mock_reply(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    with MockAnthropic(reply="Hello from the mock.") as api:
        proc = run_claude("hello", home=home, cwd=project, api=api)

    assert proc.returncode == 0, proc.stderr
    assert result_text(proc.stdout) == "Hello from the mock."
    assert api.log == [("POST", "/v1/messages?beta=true")]
    [request] = api.requests
    assert request["model"] == MODEL
    assert request["stream"] is True
    last_block = request["messages"][-1]["content"][-1]
    assert last_block["type"] == "text" and last_block["text"] == "hello"
    assert api.headers[0]["x-api-key"] == "dummy"
    # The run stayed inside the temp HOME: its transcript is there.
    assert list((home / ".claude" / "projects").glob("*/*.jsonl"))


def test_user_prompt_submit_context_reaches_the_model(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    hook = tmp_path / "inject.py"
    output = {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "MARKER-123"}}
    hook.write_text(f"import sys\nsys.stdin.read()\nprint({json.dumps(json.dumps(output))})\n")
    write_user_settings(
        home, {"UserPromptSubmit": [{"hooks": [{"type": "command", "command": python_hook_command(hook)}]}]}
    )

    with MockAnthropic(reply="ok") as api:
        proc = run_claude("hello", home=home, cwd=project, api=api)

    assert proc.returncode == 0, proc.stderr
    assert len(api.requests) == 1
    assert "MARKER-123" in api.raw_text()
    responses = [e for e in hook_events(proc.stdout) if e["subtype"] == "hook_response"]
    assert [(e["hook_event"], e["exit_code"], e["outcome"]) for e in responses] == [("UserPromptSubmit", 0, "success")]
    assert json.loads(responses[0]["stdout"]) == output
