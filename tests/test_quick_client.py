"""The quick client (hooks/warm_client.sh): bash hands SessionStart and UserPromptSubmit to the warm process
without a Python start, answers exactly as the Python hook, and when anything is off (no warm process, a port
somebody else took, a door file that is not ours, other settings, a warm process that dies) runs the Python hook
with the same input, and never sends the prompt to a peer that has not proved it is our warm process."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mem0_hooks import relay
from tests.support.hooks import HOOKS_DIR, REPO_ROOT, injected_context, prompt_event, run_hook
from tests.support.warm import QUESTION, remember, wait_for_warm

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="the quick client needs bash")


def quick(
    hooks: Path, file: str, payload: dict, *, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    """Run the quick client as the settings do (shell form), with this test's interpreter for its fallback."""
    command = f'"{BASH}" "{hooks}/warm_client.sh" {file} "{sys.executable}"'
    return subprocess.run(
        ["/bin/sh", "-c", command],
        input=json.dumps(payload).encode(),
        capture_output=True,
        env=dict(os.environ, **(env or {})),
        cwd=payload.get("cwd"),
        timeout=timeout,
        check=False,
    )


def _wait_for_door(data_home: Path, timeout: float = 15.0, holder: int | None = None) -> tuple[int, str, str, int]:
    """(port, client token, server token, pid) of the door once a live warm process (``holder``) holds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        door = relay.read_door(str(data_home))
        if door is not None and [p for p in relay.describe(str(data_home)) if p["alive"]]:
            if holder is None or door[3] == holder:
                return door
        time.sleep(0.05)
    seen = relay.read_door(str(data_home)) or "no door"
    raise AssertionError(
        f"no warm process{'' if holder is None else f' {holder}'} holds the door ({seen}): "
        f"{relay.describe(str(data_home))}"
    )


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A checkout of its own (hooks/ beside a link to the package), so a test can take the Python hooks away
    and know an answer came through the door: the fallback would have nothing to run."""
    root = tmp_path / "checkout"
    shutil.copytree(HOOKS_DIR, root / "hooks", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "mem0_hooks").symlink_to(REPO_ROOT / "mem0_hooks")
    return root / "hooks"


def _start_warm(layout: Path, project: Path, data_home: Path) -> tuple[int, str, str, int]:
    """The first hook does its own work and starts the warm process, which opens its door."""
    first = quick(layout, "user_prompt_submit.py", prompt_event("s-first", project, QUESTION))
    assert first.returncode == 0, first.stderr
    assert "kestrel-7" in injected_context(first, "UserPromptSubmit")
    return _wait_for_door(data_home)


def test_the_quick_client_is_served_by_the_warm_process_and_answers_as_the_python_hook(
    data_home: Path, project: Path, layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remember(project)
    port, _, _, pid = _start_warm(layout, project, data_home)
    assert not os.stat(relay.quick_door(str(data_home))).st_mode & 0o077
    (layout / "user_prompt_submit.py").unlink()  # from now on only the warm process can answer
    (layout / "session_start.py").unlink()

    before = set(os.listdir(data_home / "queue" / "pending"))
    served = quick(layout, "user_prompt_submit.py", prompt_event("s-quick", project, QUESTION))
    assert served.returncode == 0 and served.stderr == b""
    assert "kestrel-7" in injected_context(served, "UserPromptSubmit")
    new = [
        (data_home / "queue" / "pending" / n).read_text()
        for n in set(os.listdir(data_home / "queue" / "pending")) - before
    ]
    assert any(QUESTION in text for text in new)  # the prompt was captured, as the Python hook captures it

    # The same answer the Python hook gives for the same input (a session of its own each).
    python_hook = run_hook("UserPromptSubmit", prompt_event("s-python", project, QUESTION))
    assert injected_context(python_hook, "UserPromptSubmit") == injected_context(served, "UserPromptSubmit")

    started = quick(
        layout,
        "session_start.py",
        {
            "session_id": "s-new",
            "cwd": str(project),
            "source": "startup",
            "hook_event_name": "SessionStart",
            "transcript_path": "",
        },
    )
    assert started.returncode == 0 and started.stderr == b""
    assert json.loads(started.stdout)["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert [p["pid"] for p in relay.describe(str(data_home)) if p["alive"]] == [pid]

    from mem0_hooks.cli.main import main

    capsys.readouterr()
    assert main(["status"]) == 0
    assert f"the quick client's door is 127.0.0.1:{port}" in capsys.readouterr().out


def test_a_long_prompt_with_any_characters_arrives_whole(data_home: Path, project: Path, layout: Path) -> None:
    remember(project)
    _start_warm(layout, project, data_home)
    (layout / "user_prompt_submit.py").unlink()
    text = QUESTION + " " + "".join(f"line {i}: ü \\ \" ' $HOME `x` \t%s%n\n" for i in range(6000))  # ~200 KB
    before = set(os.listdir(data_home / "queue" / "pending"))
    served = quick(layout, "user_prompt_submit.py", prompt_event("s-long", project, text))
    assert served.returncode == 0, served.stderr
    new = [
        json.loads((data_home / "queue" / "pending" / n).read_text())
        for n in set(os.listdir(data_home / "queue" / "pending")) - before
    ]
    assert [record["item"]["text"] for record in new] == [text.strip()]


def test_without_a_warm_process_the_python_hook_answers(data_home: Path, project: Path, layout: Path) -> None:
    remember(project)
    off = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}
    done = quick(layout, "user_prompt_submit.py", prompt_event("s1", project, QUESTION), env=off)
    assert done.returncode == 0 and "kestrel-7" in injected_context(done, "UserPromptSubmit")
    assert not os.path.exists(relay.quick_door(str(data_home)))
    # A door file left by a warm process that was killed: nobody on its port, the Python hook answers.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    door = Path(relay.quick_door(str(data_home)))
    door.parent.mkdir(mode=0o700, exist_ok=True)
    door.write_text(f"{port} a b 1\n")
    again = quick(layout, "user_prompt_submit.py", prompt_event("s2", project, QUESTION), env=off)
    assert again.returncode == 0 and "kestrel-7" in injected_context(again, "UserPromptSubmit")


class _Impostor:
    """A TCP server on the door's port that is not our warm process: it records every byte it is sent and
    answers as ``behave`` says."""

    def __init__(self, behave: str, tokens: tuple[str, str] = ("client-token", "server-token")) -> None:
        self.behave, self.tokens = behave, tokens
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(20)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.connections += 1
        with conn:
            conn.settimeout(5)
            try:
                while b"\0\0" not in self.received:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    self.received += chunk
                if self.behave == "wrong token":
                    conn.sendall(b"not-the-server-token go\n")
                    time.sleep(0.5)  # anything the client sends now would arrive
                    self.received += conn.recv(65536)
                    return
                conn.sendall(self.tokens[1].encode() + b" go\n")
                sent = len(self.received)
                while not self.received[sent:].endswith(b"\0"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    self.received += chunk
                if self.behave == "dies":
                    return  # took the prompt, went away without an answer
            except OSError:
                return

    def write_door(self, data_home: Path) -> None:
        door = Path(relay.quick_door(str(data_home)))
        door.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        door.write_text(f"{self.port} {self.tokens[0]} {self.tokens[1]} 1\n")
        os.chmod(door, 0o600)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def test_a_port_taken_by_another_program_never_gets_the_prompt(data_home: Path, project: Path, layout: Path) -> None:
    remember(project)
    impostor = _Impostor("wrong token")
    try:
        impostor.write_door(data_home)
        off = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}
        done = quick(
            layout, "user_prompt_submit.py", prompt_event("s1", project, QUESTION + " secret-sauce-42"), env=off
        )
    finally:
        impostor.close()
    assert impostor.connections == 1
    assert b"client-token" in impostor.received  # a dead token of a warm process that is gone: worth nothing
    assert b"secret-sauce-42" not in impostor.received and b"kestrel" not in impostor.received
    assert done.returncode == 0 and "kestrel-7" in injected_context(done, "UserPromptSubmit")  # the Python hook


def test_a_warm_process_that_dies_mid_request_leaves_the_work_to_the_python_hook(
    data_home: Path, project: Path, layout: Path
) -> None:
    remember(project)
    impostor = _Impostor("dies")  # it knows the tokens: it stands for our warm process, killed mid-request
    try:
        impostor.write_door(data_home)
        off = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}
        done = quick(layout, "user_prompt_submit.py", prompt_event("s1", project, QUESTION), env=off)
    finally:
        impostor.close()
    assert QUESTION.encode() in impostor.received
    assert done.returncode == 0 and "kestrel-7" in injected_context(done, "UserPromptSubmit")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the door file to another user")
def test_a_door_file_of_another_user_is_never_trusted(data_home: Path, project: Path, layout: Path) -> None:
    remember(project)
    impostor = _Impostor("answers")
    try:
        impostor.write_door(data_home)
        os.chown(relay.quick_door(str(data_home)), 65534, 65534)
        off = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}
        done = quick(layout, "user_prompt_submit.py", prompt_event("s1", project, QUESTION), env=off)
    finally:
        impostor.close()
    assert impostor.connections == 0
    assert done.returncode == 0 and "kestrel-7" in injected_context(done, "UserPromptSubmit")


def test_a_hook_with_other_settings_is_answered_with_those_settings(
    data_home: Path, project: Path, layout: Path
) -> None:
    remember(project)
    _start_warm(layout, project, data_home)
    # Memory switched off in this hook's environment: the warm process holding the door would recall, so the
    # hook must reach a process of its own settings (or do the work itself), and inject nothing.
    off = {"MEM0_HOOKS_CLAUDE_CODE_MEMORY_INTEGRATION": "false"}
    for session in ("s-off-1", "s-off-2", "s-off-3"):
        done = quick(layout, "user_prompt_submit.py", prompt_event(session, project, QUESTION), env=off)
        assert done.returncode == 0 and done.stdout == b""
    # Another setting, served by its own warm process once that runs (passed on by the door's holder).
    other = {"MEM0_HOOKS_MEMORY_CONTEXT_BUDGET_CHARS": "5000"}
    answers = [
        quick(layout, "user_prompt_submit.py", prompt_event(f"s-o{i}", project, QUESTION), env=other) for i in range(3)
    ]
    wait_for_warm(data_home, timeout=15, count=2)
    (layout / "user_prompt_submit.py").unlink()
    passed_on = quick(layout, "user_prompt_submit.py", prompt_event("s-o9", project, QUESTION), env=other)
    assert passed_on.returncode == 0, passed_on.stderr
    assert "kestrel-7" in injected_context(passed_on, "UserPromptSubmit")
    assert all("kestrel-7" in injected_context(a, "UserPromptSubmit") for a in answers)


def test_the_client_sends_the_variables_the_fingerprint_is_made_of() -> None:
    script = (HOOKS_DIR / "warm_client.sh").read_text()
    listed = re.search(r"for name in \$\{!MEM0_@\}(.*?); do", script, re.S)
    assert listed is not None
    assert listed.group(1).replace("\\\n", " ").split() == list(relay.FINGERPRINT_ENV)


def test_when_the_door_holder_exits_a_warm_process_of_other_settings_takes_the_door(
    data_home: Path, project: Path, layout: Path
) -> None:
    remember(project)
    _, _, _, holder = _start_warm(layout, project, data_home)
    other = {"MEM0_HOOKS_MEMORY_CONTEXT_BUDGET_CHARS": "5000"}
    assert quick(layout, "user_prompt_submit.py", prompt_event("s-o1", project, QUESTION), env=other).returncode == 0
    wait_for_warm(data_home, timeout=15, count=2)
    (second,) = [p for p in relay.describe(str(data_home)) if p["alive"] and p["pid"] != holder]
    (first,) = [p for p in relay.describe(str(data_home)) if p["pid"] == holder]
    assert relay._control(first["socket"], first["fingerprint"], "stop")

    _wait_for_door(data_home, holder=second["pid"])  # taken over within a tick
    (layout / "user_prompt_submit.py").unlink()
    served = quick(layout, "user_prompt_submit.py", prompt_event("s-o2", project, QUESTION), env=other)
    assert served.returncode == 0 and "kestrel-7" in injected_context(served, "UserPromptSubmit")
