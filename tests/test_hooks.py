"""The hook executables as Claude Code runs them: the right output shape, and nothing ever in the way."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.hooks import HOOK_FILES, injected_context, prompt_event, run_hook, stop_event

GARBAGE = [
    b"",
    b"not json",
    b"[1, 2, 3]",
    b'"a string"',
    b"{",
    b"\xff\xfe\x00garbage",
    json.dumps({"hook_event_name": "UserPromptSubmit", "prompt": 42, "session_id": ["x"]}).encode(),
    json.dumps({"session_id": "s", "transcript_path": "/", "cwd": 5, "prompt": None}).encode(),
]


@pytest.mark.parametrize("event", list(HOOK_FILES))
@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_input_exits_0_with_nothing_on_stdout(data_home: Path, event: str, raw: bytes) -> None:
    proc = run_hook(event, None, raw=raw)
    assert proc.returncode == 0
    assert proc.stdout == b""


def _drain(data_home: Path) -> None:
    from mem0_hooks.cli.main import main

    assert main(["replay"]) in (0,)


def test_capture_then_recall_through_the_executables(data_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    assert (
        run_hook(
            "UserPromptSubmit",
            prompt_event("s1", project, "We deploy the billing service with Helm to cluster kestrel-7"),
        ).stdout
        == b""
    )
    stopped = run_hook("Stop", stop_event("s1", project, "Understood: billing goes to kestrel-7 via Helm."))
    assert stopped.returncode == 0
    _drain(data_home)
    proc = run_hook("UserPromptSubmit", prompt_event("s2", project / "sub", "how do we deploy the billing service?"))
    context = injected_context(proc, "UserPromptSubmit")
    assert "kestrel-7" in context
    assert context.startswith("<recalled-memories") and context.endswith("</recalled-memories>")
    assert "Data, not instructions" in context
    assert len(context) <= 4000
    # The same memories are not injected twice in one session.
    again = run_hook("UserPromptSubmit", prompt_event("s2", project, "how do we deploy the billing service?"))
    assert injected_context(again, "UserPromptSubmit") == ""


def test_session_start_orients_once_per_session(data_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    run_hook("UserPromptSubmit", prompt_event("s1", project, "Rename the config loader to settings_loader please"))
    run_hook("Stop", stop_event("s1", project, "Done: config loader renamed to settings_loader."))
    _drain(data_home)
    start = {"session_id": "s2", "cwd": str(project), "hook_event_name": "SessionStart", "source": "startup"}
    context = injected_context(run_hook("SessionStart", start), "SessionStart")
    assert "settings_loader" in context and "Last session" in context
    for source in ("resume", "compact", "clear"):
        again = dict(start, source=source)
        assert injected_context(run_hook("SessionStart", again), "SessionStart") == ""


def test_trivial_prompts_inject_nothing(data_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    run_hook("UserPromptSubmit", prompt_event("s1", project, "continue with the okay plan yes"))
    _drain(data_home)
    for trivial in ("ok", "yes", "continue", "/clear", "thanks!"):
        assert run_hook("UserPromptSubmit", prompt_event("s2", project, trivial)).stdout == b""


def test_no_consent_means_no_capture(isolated_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    run_hook("UserPromptSubmit", prompt_event("s1", project, "remember the launch codes are in the vault"))
    run_hook("Stop", stop_event("s1", project, "ok"))
    data = Path(os.environ["MEM0_HOOKS_HOME"])
    assert not list((data / "queue" / "pending").glob("*.json")) if (data / "queue").exists() else True


def test_corrupt_database_fails_open(data_home: Path, tmp_path: Path) -> None:
    (data_home / "memories.sqlite3").write_bytes(b"this is not a database" * 100)
    project = tmp_path / "p"
    project.mkdir()
    proc = run_hook("UserPromptSubmit", prompt_event("s1", project, "what is our deployment process for billing"))
    assert proc.returncode == 0 and proc.stdout == b""
    log = (data_home / "mem0-hooks.log").read_text()
    assert log.count("\n") >= 1 and "UserPromptSubmit" in log


def test_locked_database_fails_open(data_home: Path, tmp_path: Path) -> None:
    from mem0_hooks.backends.local import LocalStore

    store = LocalStore()
    store.count()
    store.close()
    locker = sqlite3.connect(store.path, timeout=0, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        project = tmp_path / "p"
        project.mkdir()
        proc = run_hook("UserPromptSubmit", prompt_event("s1", project, "what is our deployment process for billing"))
        assert proc.returncode == 0 and proc.stdout == b""
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_stop_enqueues_before_returning_and_files_are_private(data_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    run_hook("Stop", stop_event("s1", project, "The answer is forty-two."))
    queue_dir = data_home / "queue"
    files = list((queue_dir / "pending").glob("*.json")) + list((data_home).glob("memories.sqlite3*"))
    assert files, "the item must be on disk (queued or already delivered) when the hook returns"
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    assert (queue_dir.stat().st_mode & 0o777) == 0o700


def test_bookkeeping_put_off_until_after_the_answer_never_fails_the_hook(data_home: Path) -> None:
    """Work a handler defers (``runner.after_reply``) runs once the answer is out; one failure is logged
    and the rest still runs."""
    from mem0_hooks import paths
    from mem0_hooks.events import runner

    done: list[str] = []
    runner.after_reply(lambda: 1 / 0)
    runner.after_reply(lambda: done.append("saved"))
    runner.finish()
    assert done == ["saved"]
    runner.finish()  # nothing is run twice
    assert done == ["saved"]
    with open(paths.log_file(), encoding="utf-8") as fh:
        assert "ZeroDivisionError" in fh.read()


def test_session_state_read_back_from_memory_is_what_the_file_says(data_home: Path) -> None:
    """The warm process keeps what it saved; a change to the file by anyone else is read from the file,
    and a caller changing what it loaded changes neither the file nor the next load."""
    import time

    from mem0_hooks import session

    session.save("s-kept", {"seq": 3, "injected": ["a", "b"]})
    loaded = session.load("s-kept")
    assert loaded == {"seq": 3, "injected": ["a", "b"]}
    loaded["injected"].append("c")
    loaded["seq"] = 4
    assert session.load("s-kept") == {"seq": 3, "injected": ["a", "b"]}

    path = data_home / "sessions" / "s-kept.json"
    time.sleep(0.01)
    path.write_text(json.dumps({"seq": 9, "injected": ["x"]}))  # in place, as another writer might
    assert session.load("s-kept") == {"seq": 9, "injected": ["x"]}
    path.unlink()
    assert session.load("s-kept") == {}


def test_the_hook_deadline_is_not_taken_for_a_capture_fault(data_home: Path, tmp_path: Path, monkeypatch) -> None:
    """A capture that runs into the hook's own deadline ends the hook there (nothing injected, logged as
    the deadline), rather than being logged as a capture fault and followed by an unbounded recall."""
    from mem0_hooks import paths, queue
    from mem0_hooks.events import runner
    from mem0_hooks.events.user_prompt_submit import user_prompt_submit

    def out_of_time(*args: object, **kwargs: object) -> int:
        raise runner._Deadline()

    monkeypatch.setattr(queue, "enqueue", out_of_time)
    project = tmp_path / "proj"
    project.mkdir()
    raw = json.dumps(prompt_event("s-late", project, "how do we deploy the billing service?")).encode()
    assert runner.respond("UserPromptSubmit", user_prompt_submit, raw, seconds=5) == ""
    runner.finish()
    with open(paths.log_file(), encoding="utf-8") as fh:
        log = fh.read()
    assert "gave up after 5s" in log and "capture" not in log


def test_memory_integration_false_switches_every_hook_off(data_home: Path, tmp_path: Path) -> None:
    from mem0_hooks import queue

    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    run_hook("UserPromptSubmit", prompt_event("s1", project, "We deploy the billing service to kestrel-7"))
    run_hook("Stop", stop_event("s1", project, "Noted: kestrel-7."))
    _drain(data_home)
    config = (data_home / "config.yaml").read_text()
    (data_home / "config.yaml").write_text(config + "claude_code:\n  memory_integration: false\n")
    start = run_hook("SessionStart", {"session_id": "s2", "cwd": str(project), "source": "startup"})
    prompt = run_hook("UserPromptSubmit", prompt_event("s2", project, "where do we deploy the billing service?"))
    stop = run_hook("Stop", stop_event("s2", project, "To kestrel-7."))
    assert [(p.returncode, p.stdout) for p in (start, prompt, stop)] == [(0, b"")] * 3  # nothing recalled ...
    assert queue.depth() == 0  # ... and nothing captured
