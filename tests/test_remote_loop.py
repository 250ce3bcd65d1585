"""Capture -> queue -> flush -> recall through the real hook executables, for each Mem0 backend.

Each backend talks to a real HTTP server on 127.0.0.1 that answers as the deployment does
(``tests/support/fake_mem0.py``). Also: what a user sees when the backend is down.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from mem0_hooks.cli.main import main as cli
from tests.support.fake_mem0 import FakeMem0, FakeOpenMemory, FakePlatform, FakeServer
from tests.support.hooks import injected_context, prompt_event, run_hook, stop_event

FACT = "The payments service retries webhooks with exponential backoff capped at 90 seconds"
QUESTION = "how does the payments service retry webhooks?"


@pytest.fixture(params=["platform", "openmemory", "server"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeMem0]:
    cls = {"platform": FakePlatform, "openmemory": FakeOpenMemory, "server": FakeServer}[request.param]
    with cls() as server:
        yield server


def configure(data_home: Path, fake: FakeMem0, monkeypatch: pytest.MonkeyPatch, **memory: object) -> None:
    cfg = {
        "backend": fake.service,
        "user_id": "alice",
        "privacy": {"consent_given": True},
        "mem0": {"base_url": fake.base_url, "infer": False, "breaker_cooldown_seconds": 30},
    }
    if memory:
        cfg["memory"] = memory
    (data_home / "config.yaml").write_text(yaml.safe_dump(cfg))
    if fake.default_key:
        monkeypatch.setenv("MEM0_API_KEY", fake.default_key)


def test_capture_flush_recall(data_home: Path, fake: FakeMem0, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(data_home, fake, monkeypatch, recall_on_session_start=False)
    assert run_hook("UserPromptSubmit", prompt_event("s1", project, FACT)).returncode == 0
    assert run_hook("Stop", stop_event("s1", project, "Got it: backoff capped at 90 seconds.")).returncode == 0
    assert cli(["replay"]) == 0
    texts = json.dumps(fake.memories)
    assert "90 seconds" in texts
    adds = [r for r in fake.requests if r.method == "POST" and "memories" in r.path and "search" not in r.path]
    assert adds, "the flusher must have sent the turns"
    sent = json.dumps([r.body for r in adds])
    assert "alice" in sent  # the configured user id
    proc = run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION))
    assert proc.returncode == 0
    context = injected_context(proc, "UserPromptSubmit")
    assert "90 seconds" in context


def test_backend_down_costs_nothing_and_loses_nothing(
    data_home: Path, fake: FakeMem0, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_home, fake, monkeypatch)
    fake.down()
    first = run_hook("UserPromptSubmit", prompt_event("s1", project, FACT))
    assert first.returncode == 0 and first.stdout == b""
    requests_before = len(fake.requests)
    started = time.monotonic()
    again = run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    assert again.returncode == 0 and again.stdout == b""
    assert time.monotonic() - started < 5  # no network wait: the breaker is open
    run_hook("Stop", stop_event("s1", project, "Got it."))
    assert cli(["replay"]) == 1  # nothing could be delivered: non-zero
    capsys.readouterr()
    assert cli(["status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["queue_pending"] == 3 and info["queue_dead"] == 0  # two prompts and a reply
    fake.up()
    assert cli(["replay"]) == 0
    assert len(fake.requests) > requests_before
    assert "90 seconds" in json.dumps(fake.memories)
    capsys.readouterr()
    cli(["status", "--json"])
    assert json.loads(capsys.readouterr().out)["queue_pending"] == 0


def test_doctor_checks_the_backend_for_real(
    data_home: Path, fake: FakeMem0, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(data_home, fake, monkeypatch)
    cli(["doctor"])
    out = capsys.readouterr().out
    assert "[ok  ] store" in out
    fake.down()
    cli(["doctor"])
    out = capsys.readouterr().out
    assert "[FAIL] store" in out
    assert fake.base_url.split("//")[1] in out or "running" in out
    key = os.environ.get("MEM0_API_KEY")
    if key:
        assert key not in out
