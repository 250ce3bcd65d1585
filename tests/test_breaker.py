"""The file-based circuit breaker: state shared by processes through one small JSON file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from mem0_hooks import breaker, paths


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path / "home"))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(breaker.time, "time", fake)
    return fake


def state_path(name: str = "platform") -> str:
    return paths.state_file(f"breaker-{name}.json")


def test_closed_when_nothing_is_known():
    assert breaker.is_open("platform") is False
    assert breaker.status("platform")["state"] == "closed"
    assert not os.path.exists(state_path())


def test_failure_opens_for_the_cooldown_then_it_closes_by_itself(clock):
    breaker.record_failure("platform", "connection refused", 60)
    assert breaker.is_open("platform")
    status = breaker.status("platform")
    assert status["open"] and status["seconds_left"] == 60 and status["failures"] == 1
    assert status["last_failure"] == "connection refused" and status["last_failure_at"]
    clock.now += 59
    assert breaker.is_open("platform")
    clock.now += 2
    assert not breaker.is_open("platform")
    assert breaker.status("platform")["state"] == "closed"


def test_success_closes_and_resets(clock):
    breaker.record_failure("platform", "boom", 60)
    breaker.record_success("platform")
    status = breaker.status("platform")
    assert not status["open"] and status["failures"] == 0 and status["closed_at"]


def test_success_on_a_healthy_breaker_writes_nothing():
    breaker.record_success("platform")
    assert not os.path.exists(state_path())


def test_longer_retry_after_extends_and_a_shorter_failure_never_shortens(clock):
    breaker.record_failure("platform", "rate limited", 60, retry_after=600)
    assert breaker.status("platform")["seconds_left"] == 600
    clock.now += 10
    breaker.record_failure("platform", "again", 60)
    assert breaker.status("platform")["seconds_left"] == 590
    assert breaker.status("platform")["failures"] == 2
    breaker.record_failure("platform", "shorter retry-after", 60, retry_after=5)
    assert breaker.status("platform")["seconds_left"] == 590


def test_zero_cooldown_records_but_never_opens(clock):
    breaker.record_failure("platform", "down", 0)
    assert not breaker.is_open("platform")
    assert breaker.status("platform")["failures"] == 1
    breaker.record_failure("platform", "429", 0, retry_after=30)  # the server's own request still counts
    assert breaker.is_open("platform")


def test_backends_are_independent(clock):
    breaker.record_failure("server", "down", 60)
    assert breaker.is_open("server") and not breaker.is_open("openmemory")


def test_file_is_private_and_written_atomically(clock):
    breaker.record_failure("platform", "down", 60)
    mode = stat.S_IMODE(os.stat(state_path()).st_mode)
    assert mode == 0o600
    directory = os.path.dirname(state_path())
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert os.listdir(directory) == ["breaker-platform.json"]  # no temp files left behind
    with open(state_path()) as fh:
        assert json.load(fh)["backend"] == "platform"


def test_garbage_file_counts_as_closed_and_is_overwritten(clock):
    os.makedirs(os.path.dirname(state_path()), exist_ok=True)
    for garbage in ("{not json", "[1, 2]", '{"open_until": "soon", "opened_at": null}', ""):
        with open(state_path(), "w") as fh:
            fh.write(garbage)
        assert breaker.is_open("platform") is False
        assert breaker.status("platform")["state"] == "closed"
    breaker.record_failure("platform", "down", 60)
    assert breaker.is_open("platform")


def test_io_errors_never_raise(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(blocker))  # state dir cannot be created under a file
    breaker.record_failure("platform", "down", 60)
    breaker.record_success("platform")
    breaker.reset("platform")
    assert breaker.is_open("platform") is False
    assert breaker.status("platform")["state"] == "closed"


def test_a_clock_moved_back_before_the_opening_closes_it(clock):
    breaker.record_failure("platform", "down", 3600)
    clock.now -= 7200
    assert not breaker.is_open("platform")


def test_reset_forgets(clock):
    breaker.record_failure("platform", "down", 60)
    breaker.reset("platform")
    assert not breaker.is_open("platform") and breaker.status("platform")["failures"] == 0


def test_odd_backend_names_stay_inside_the_state_dir(clock):
    breaker.record_failure("../../etc/x y", "down", 60)
    assert breaker.is_open("../../etc/x y")
    assert os.listdir(os.path.dirname(state_path())) == ["breaker-.._.._etc_x_y.json"]


def test_long_reasons_are_kept_short(clock):
    breaker.record_failure("platform", "x" * 5000 + "\n\nmore", 60)
    assert len(breaker.status("platform")["last_failure"]) == 500


def test_imports_only_the_standard_library():
    code = (
        "import sys; import mem0_hooks.breaker as b; b.is_open('x');"
        "heavy = [m for m in ('httpx', 'pydantic', 'yaml', 'filelock') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == ""


def test_the_same_failure_reported_by_backend_and_caller_counts_once(clock):
    breaker.record_failure("server", "connection refused", 60)
    breaker.record_failure("server", "connection refused", 60)
    assert breaker.status("server")["failures"] == 1
    assert breaker.status("server")["reason"] == "connection refused"
    clock.now += 5
    breaker.record_failure("server", "connection refused", 60)
    assert breaker.status("server")["failures"] == 2
