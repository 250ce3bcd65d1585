"""The warm process: hooks served by it answer exactly as hooks that do their own work, and it never
gets in the way (killed, switched off, stale, impersonated, or too slow)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mem0_hooks import relay
from tests.support.hooks import HOOKS_DIR, REPO_ROOT, injected_context, prompt_event, run_hook, stop_event
from tests.support.stores import local_rows
from tests.support.transcripts import append_lines, transcript_entry
from tests.support.warm import QUESTION, remember, wait_for_warm


def _where(data_home: Path, **env: str) -> tuple[str, str]:
    """(fingerprint, socket path) a hook run with this test's environment (plus ``env``) uses."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        home = os.path.abspath(str(data_home))
        fp = relay.fingerprint(home)
        return fp, relay.socket_path(home, fp)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_first_hook_starts_a_warm_process_and_the_next_is_served_by_it(data_home: Path, project: Path) -> None:
    remember(project)
    first = run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    assert "kestrel-7" in injected_context(first, "UserPromptSubmit")  # done in the hook process
    (proc,) = wait_for_warm(data_home)
    fp, path = _where(data_home)
    assert proc["fingerprint"] == fp and proc["socket"] == path
    assert not os.stat(os.path.dirname(path)).st_mode & 0o077  # nobody else can reach the socket

    request = json.dumps(prompt_event("s2", project, QUESTION)).encode()
    served = relay.ask(path, fp, "UserPromptSubmit", request, time.time() + 9)
    assert served is not None, "the warm process declined a hook it should serve"
    data = json.loads(served)
    assert data["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert "kestrel-7" in data["hookSpecificOutput"]["additionalContext"]

    # Through the real executable too, and the prompt it captured is on disk when the hook returns.
    before = set(os.listdir(data_home / "queue" / "pending"))
    third = run_hook("UserPromptSubmit", prompt_event("s3", project, "and how do we roll the billing service back?"))
    assert "kestrel-7" in injected_context(third, "UserPromptSubmit")
    new = set(os.listdir(data_home / "queue" / "pending")) - before
    assert any("roll the billing service back" in (data_home / "queue" / "pending" / n).read_text() for n in new)


# (environment, whether the hook side gets by without ``os``: only a path to normalise needs it)
ENVIRONMENTS = [
    ({"MEM0_HOOKS_HOME": "relative/data"}, False),
    ({"MEM0_HOOKS_HOME": "/srv/../srv/mem0//data/", "MEM0_API_KEY": "k-\u00e9"}, False),
    ({"MEM0_HOOKS_HOME": "/srv/mem0 data", "MEM0_API_KEY": "k-\u00e9"}, True),
    ({"CLAUDE_PLUGIN_DATA": "/plugins/data/mem0", "HOME": "/home/someone"}, True),  # the plugin: the same dir
    ({"XDG_DATA_HOME": "/xdg/share/"}, False),
    ({"HOME": "/home/someone"}, True),
    ({"HOME": "/home/some one", "HTTPS_PROXY": "http://proxy:3128"}, True),
]


@pytest.mark.parametrize(("env", "os_free"), ENVIRONMENTS, ids=lambda v: ",".join(v) if isinstance(v, dict) else "")
def test_a_hook_without_os_finds_the_same_data_dir_and_fingerprint_as_the_warm_process(
    env: dict[str, str], os_free: bool, tmp_path: Path
) -> None:
    """The hook side reads the environment through ``posix`` (``os`` is not imported under ``-S``), the
    warm process through ``os.environ``: both must name the same data dir and socket, or no hook is served."""
    from mem0_hooks import paths

    base = {k: v for k, v in os.environ.items() if k == "PATH" or k == "LANG"}
    full = {**base, **env}
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from mem0_hooks import relay;"
        "home = relay.data_home(); fp = relay.fingerprint(home);"
        "print(home); print(fp); print(relay.socket_path(home, fp)); print('os' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(REPO_ROOT)], env=full, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    home, fp, path, os_loaded = out.stdout.splitlines()
    assert os_loaded == str(not os_free)

    saved, cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(full)
    os.chdir(tmp_path)
    try:
        expected_home = os.path.abspath(paths.home())
        assert home == expected_home
        assert fp == relay.fingerprint(expected_home)
        assert path == relay.socket_path(expected_home, fp)
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


def test_a_session_is_not_given_the_same_memory_twice_by_the_warm_process(data_home: Path, project: Path) -> None:
    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    again = run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION + " (again)"))
    assert "kestrel-7" not in injected_context(again, "UserPromptSubmit")


def test_a_config_change_is_seen_by_the_running_warm_process(data_home: Path, project: Path) -> None:
    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    config = data_home / "config.yaml"
    config.write_text(config.read_text().replace("search_on_query: true", "search_on_query: false"))
    assert "search_on_query: false" in config.read_text()
    assert run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION)).stdout == b""


def test_hooks_with_other_settings_never_use_a_warm_process_started_with_different_ones(
    data_home: Path, project: Path
) -> None:
    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    (started,) = wait_for_warm(data_home)
    off = {"MEM0_HOOKS_MEMORY_SEARCH_ON_QUERY": "false"}
    assert _where(data_home, **off)[0] != started["fingerprint"]
    assert run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION), env=off).stdout == b""


@pytest.mark.parametrize(
    ("appended", "answered"),
    [("claude_code:\n  warm_process: false\n", True), ("memory: [unclosed\n", False)],
    ids=["switched off", "broken by hand"],
)
def test_a_config_that_switches_it_off_or_cannot_be_read_retires_it(
    data_home: Path, project: Path, appended: str, answered: bool
) -> None:
    """Hooks then work on their own: switched off, they answer as before; with a config that cannot be
    read, they stay quiet, as a hook without a warm process does."""
    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    config = data_home / "config.yaml"
    config.write_text(config.read_text() + appended)
    proc = run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION))
    if answered:
        assert "kestrel-7" in injected_context(proc, "UserPromptSubmit")  # declined, then done by the hook
    else:
        assert proc.returncode == 0 and proc.stdout == b""
    wait_for_warm(data_home, alive=False)
    run_hook("UserPromptSubmit", prompt_event("s3", project, QUESTION))
    time.sleep(0.5)
    assert not [p for p in relay.describe(str(data_home)) if p["alive"]]


def test_a_killed_warm_process_costs_nothing_but_a_slower_hook(data_home: Path, project: Path) -> None:
    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    (proc,) = wait_for_warm(data_home)
    assert run_hook("UserPromptSubmit", prompt_event("s1b", project, QUESTION)).returncode == 0  # served by it
    os.kill(proc["pid"], signal.SIGKILL)  # leaves its socket file behind
    time.sleep(0.2)
    assert os.path.exists(proc["socket"])
    answer = run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION))
    assert answer.returncode == 0 and "kestrel-7" in injected_context(answer, "UserPromptSubmit")
    (fresh,) = wait_for_warm(data_home)
    assert fresh["pid"] != proc["pid"]
    assert not (data_home / "mem0-hooks.log").exists() or "ERROR" not in (data_home / "mem0-hooks.log").read_text()


@pytest.mark.parametrize("behaviour", ["close-at-once", "close-after-reading", "garbage", "fallback"])
def test_a_socket_that_does_not_answer_properly_is_worked_around(
    data_home: Path, project: Path, behaviour: str
) -> None:
    """Whatever listens on the socket (a warm process dying mid-request, an old version), the hook
    answers and captures as if it were not there."""
    remember(project)
    fp, path = _where(data_home)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)

    def serve() -> None:
        conn, _ = server.accept()
        if behaviour != "close-at-once":
            while conn.recv(65536):
                pass
        if behaviour == "garbage":
            conn.sendall(b"\x00\xffnot a reply")
        elif behaviour == "fallback":
            conn.sendall(b"fallback\n")
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        answer = run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION))
    finally:
        thread.join(5)
        server.close()
    assert answer.returncode == 0
    assert "kestrel-7" in injected_context(answer, "UserPromptSubmit")
    pending = [p.read_text() for p in (data_home / "queue" / "pending").iterdir()]
    assert sum(QUESTION in text for text in pending) == 1


def test_a_socket_in_a_directory_others_can_enter_is_never_used(data_home: Path, project: Path) -> None:
    """Someone else's socket could answer with their own "memories": the hook must not talk to it."""
    remember(project)
    fp, path = _where(data_home)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.chmod(os.path.dirname(path), 0o777)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    server.settimeout(3)
    injected = json.dumps({"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "EVIL"}})
    reached = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        reached.append(True)
        conn.sendall(b"ok\n" + injected.encode())
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    answer = run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION))
    thread.join(5)
    server.close()
    context = injected_context(answer, "UserPromptSubmit")
    assert "EVIL" not in context and "kestrel-7" in context
    assert not reached


def test_a_data_dir_too_deep_for_a_unix_socket_path_still_gets_a_warm_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mem0_hooks import config as config_mod

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True, mode=0o700)
    (deep / "config.yaml").write_text(config_mod.default_yaml(consent=True))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(deep))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    (proc,) = wait_for_warm(deep)
    assert proc["socket"].startswith(str(runtime)) and len(proc["socket"]) < 108  # the limit on Linux
    fp, path = _where(deep)
    request = json.dumps(prompt_event("s2", project, QUESTION)).encode()
    served = relay.ask(path, fp, "UserPromptSubmit", request, time.time() + 9)
    assert served is not None and b"kestrel-7" in served


def test_it_exits_when_idle_and_uninstall_stops_it(data_home: Path, project: Path) -> None:
    config = data_home / "config.yaml"
    config.write_text(config.read_text() + "claude_code:\n  warm_process_idle_minutes: 0.03\n")
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    wait_for_warm(data_home, alive=False, timeout=15)  # 1.8 s idle, checked every 2 s

    config.write_text(config.read_text().replace("0.03", "30"))
    run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION))
    wait_for_warm(data_home)
    assert relay.stop_all(str(data_home)) == 1
    wait_for_warm(data_home, alive=False)
    assert not list((data_home / "run").glob("warm-*.sock"))


def test_a_code_change_on_disk_retires_the_warm_process(tmp_path: Path, data_home: Path, project: Path) -> None:
    """After an upgrade (or a developer's edit) no hook is answered by the old code."""
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "mem0_hooks", checkout / "mem0_hooks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(HOOKS_DIR, checkout / "hooks", ignore=shutil.ignore_patterns("__pycache__"))
    hook = [sys.executable, str(checkout / "hooks" / "user_prompt_submit.py")]
    remember(project)

    import subprocess

    def ask(session: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            hook,
            input=json.dumps(prompt_event(session, project, QUESTION)).encode(),
            capture_output=True,
            timeout=30,
            check=False,
        )

    ask("s1")
    (old,) = wait_for_warm(data_home)
    recall = checkout / "mem0_hooks" / "context.py"
    recall.write_text(recall.read_text().replace('TAG = "recalled-memories"', 'TAG = "recalled-memories-v2"'))
    answer = ask("s2")
    assert b"recalled-memories-v2" in answer.stdout  # the new code answered (in the hook process)
    wait_for_warm(data_home, alive=False)
    ask("s3")
    (new,) = wait_for_warm(data_home)
    assert new["pid"] != old["pid"]
    assert b"recalled-memories-v2" in ask("s4").stdout


@pytest.mark.parametrize("kernel", ["inotify", "mtime scan"])
@pytest.mark.parametrize("edit", ["in place", "by rename", "new module", "new subpackage"])
def test_the_code_watch_sees_every_kind_of_edit_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: str, edit: str
) -> None:
    """What retires a warm process: a ``.py`` file changed however an editor or pip writes it; not
    bytecode, editor swap files or other files."""
    from mem0_hooks import warm

    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    (package / "mod.py").write_text("A = 1\n")
    monkeypatch.setattr(warm, "_package_dirs", lambda: [str(package), str(package / "sub")])
    if kernel == "mtime scan":
        monkeypatch.setattr(warm, "_inotify", lambda dirs: None)
    watch = warm._CodeWatch()
    assert (watch.fd is None) == (kernel == "mtime scan") or not sys.platform.startswith("linux")

    (package / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"bytecode")
    (package / ".mod.py.swp").write_text("swap")
    (package / "notes.txt").write_text("not code")
    assert not watch.changed()

    time.sleep(0.01)  # an mtime the scan can tell apart
    if edit == "in place":
        (package / "mod.py").write_text("A = 2\n")
    elif edit == "by rename":
        (package / "mod.py.tmp").write_text("A = 2\n")
        os.replace(package / "mod.py.tmp", package / "mod.py")
    elif edit == "new module":
        (package / "sub" / "extra.py").write_text("B = 1\n")
    else:
        (package / "sub" / "deeper").mkdir()
    if edit == "new subpackage" and kernel == "mtime scan":
        return  # an empty new directory changes no .py file: nothing runs from it yet
    assert watch.changed()
    assert watch.changed()  # and it stays so


def test_the_code_watch_also_scans_for_changes_inotify_does_not_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A network or VM-shared mount edited from elsewhere sends no inotify event: the idle check's scan
    still sees the change."""
    from mem0_hooks import warm

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("A = 1\n")
    monkeypatch.setattr(warm, "_package_dirs", lambda: [str(package)])
    watch = warm._CodeWatch()
    monkeypatch.setattr(watch, "_events", lambda: False)  # the kernel says nothing
    time.sleep(0.01)
    (package / "mod.py").write_text("A = 22\n")
    assert watch.changed(scan=True)


@pytest.mark.parametrize("how", ["forget --all", "delete the store file"])
def test_forgotten_memories_are_not_recalled_by_a_running_warm_process(
    data_home: Path, project: Path, how: str
) -> None:
    """The warm process keeps the store open between prompts; what the user erased must not come back."""
    from mem0_hooks.cli.main import main

    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    served = run_hook("UserPromptSubmit", prompt_event("s2", project, QUESTION))
    assert "kestrel-7" in injected_context(served, "UserPromptSubmit")
    if how == "forget --all":
        assert main(["forget", "--all", "--yes"]) == 0
    else:
        for name in ("memories.sqlite3", "memories.sqlite3-wal", "memories.sqlite3-shm"):
            (data_home / name).unlink(missing_ok=True)
    assert [p for p in relay.describe(str(data_home)) if p["alive"]], "the warm process should still be serving"
    assert "kestrel-7" not in injected_context(
        run_hook("UserPromptSubmit", prompt_event("s3", project, QUESTION)), "UserPromptSubmit"
    )


def test_a_word_first_asked_about_then_remembered_is_recalled_by_the_warm_process(
    data_home: Path, project: Path
) -> None:
    """Asking about a name before any memory has it must not hide it once one does."""
    from mem0_hooks.cli.main import main

    remember(project)
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    asked = run_hook("UserPromptSubmit", prompt_event("s2", project, "what is the zephyr cluster used for?"))
    assert "Zephyr" not in injected_context(asked, "UserPromptSubmit")
    off = {"MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS": "false"}
    told = prompt_event("s3", project, "Zephyr is the staging cluster where we test database migrations")
    run_hook("UserPromptSubmit", told, env=off)
    assert main(["replay"]) == 0
    again = run_hook("UserPromptSubmit", prompt_event("s4", project, "what is the zephyr cluster used for?"))
    assert "staging cluster where we test database migrations" in injected_context(again, "UserPromptSubmit")


def test_prompts_are_captured_after_the_queue_directory_was_wiped_under_the_warm_process(
    data_home: Path, project: Path
) -> None:
    said = "the release train leaves every second Tuesday"
    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    _wipe(data_home / "queue")
    run_hook("UserPromptSubmit", prompt_event("s2", project, said))
    # The flusher the warm process started (its backfill of vectors) may deliver the prompt at any moment
    # after the hook returns: it is then in the store instead of the queue, and in one of the two.
    deadline = time.monotonic() + 5
    while True:
        stored = [row for row in local_rows(str(data_home / "memories.sqlite3")) if said in row[3]]
        queued = [text for text in _texts(data_home / "queue" / "pending") if said in text]
        if stored or queued:
            break
        assert time.monotonic() < deadline, "the prompt is neither in the queue nor in the store"
        time.sleep(0.05)
    assert len(stored) <= 1, stored


def _wipe(folder: Path) -> None:
    """``rm -rf folder``, done again while a writer (the first prompt's flusher) puts files back in it."""
    deadline = time.monotonic() + 5
    while folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
        assert time.monotonic() < deadline, f"{folder} could not be removed"


def _texts(folder: Path) -> list[str]:
    """The files of ``folder``, those a flusher has not taken away meanwhile."""
    texts = []
    for path in folder.iterdir() if folder.is_dir() else ():
        try:
            texts.append(path.read_text())
        except FileNotFoundError:
            pass
    return texts


def test_a_warm_process_that_cannot_start_its_backend_is_not_restarted_by_every_hook(
    data_home: Path, project: Path
) -> None:
    """A remote backend without its key: hooks fail open, and no warm process is started per prompt."""
    config = data_home / "config.yaml"
    config.write_text(config.read_text().replace("backend: local", "backend: platform"))
    assert "backend: platform" in config.read_text()
    for n in range(4):
        assert run_hook("UserPromptSubmit", prompt_event(f"s{n}", project, QUESTION)).returncode == 0
        time.sleep(0.3)
    started = [line for line in (data_home / "mem0-hooks.log").read_text().splitlines() if "warm process" in line]
    assert len(started) <= 1, started


def test_a_prompt_the_warm_process_cannot_take_in_time_is_captured_by_the_hook(data_home: Path, project: Path) -> None:
    """A warm process busy elsewhere that never reads a big pasted prompt: the hook gives up sending
    in time, does the work itself, and the prompt is captured once (finished within Claude Code's 10 s)."""
    fp, path = _where(data_home)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)  # accepts (the kernel does) but never reads
    big = "Our style guide for the billing service: " + ("keep functions short and named for what they do. " * 40000)
    started = time.monotonic()
    try:
        proc = run_hook("UserPromptSubmit", prompt_event("s-big", project, big))
    finally:
        server.close()
    took = time.monotonic() - started
    assert proc.returncode == 0 and took < 9.5, took
    pending = [p.read_text() for p in (data_home / "queue" / "pending").iterdir()]
    assert sum("Our style guide for the billing service" in text for text in pending) == 1


def test_a_stop_with_a_long_new_tail_is_captured_once_whoever_reads_it(data_home: Path, project: Path) -> None:
    """The warm process leaves a long first capture to the hook (it would hold up other sessions'
    prompts) and serves the short ones after it; every turn is captured exactly once either way."""
    run_hook("UserPromptSubmit", prompt_event("s0", project, QUESTION))
    wait_for_warm(data_home)
    transcript = project / "long.jsonl"
    filler = "We walked through the ledger reconciliation job line by line. " * 40

    def entry(n: int, text: str) -> dict:
        line = transcript_entry(
            "user" if n % 2 == 0 else "assistant",
            "s-long",
            n,
            text if n % 2 == 0 else [{"type": "text", "text": text}],
            project,
        )
        line["message"]["id"] = f"msg_{n}"  # one API message per assistant turn
        return line

    append_lines(transcript, [entry(n, f"turn {n}: {filler}") for n in range(400)])
    assert transcript.stat().st_size > 600 * 1024

    def stop(reply: str) -> None:
        proc = run_hook("Stop", stop_event("s-long", project, reply, transcript))
        assert proc.returncode == 0 and proc.stdout == b""

    stop(f"turn 399: {filler}")
    append_lines(transcript, [entry(400, "turn 400: and the short one?"), entry(401, "turn 401: short.")])
    stop("turn 401: short.")
    from mem0_hooks.cli.main import main

    assert main(["replay"]) == 0
    from mem0_hooks.backends.local import LocalStore

    texts = [m.text for m in LocalStore().list()]
    for n in (0, 1, 200, 399, 400, 401):
        assert sum(t.startswith(f"turn {n}:") for t in texts) == 1, n


def test_mem0_hooks_uninstall_stops_the_warm_process(data_home: Path, project: Path) -> None:
    from mem0_hooks.cli.main import main

    run_hook("UserPromptSubmit", prompt_event("s1", project, QUESTION))
    wait_for_warm(data_home)
    assert main(["uninstall"]) == 0
    wait_for_warm(data_home, alive=False)


@pytest.mark.parametrize("layout", ["installed", "checkout"])
def test_the_warm_process_finds_the_package_a_hook_imports(tmp_path: Path, layout: str) -> None:
    """``warm._package_of`` repeats ``hooks/_bootstrap.py``'s rule (the bootstrap runs before the package
    can be imported, so they cannot share it): both must name the same folder, or a quick-client request
    would be fingerprinted for a package no hook of those settings runs."""
    from mem0_hooks import warm

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = venv / "lib" / "python{}.{}".format(*sys.version_info[:2]) / "site-packages"
    (site / "mem0_hooks").mkdir(parents=True)
    (site / "mem0_hooks" / "__init__.py").write_text("")
    root = tmp_path / "data"  # as ./install.sh lays it out: the hooks, no package beside them
    (root / "hooks").mkdir(parents=True)
    shutil.copy(HOOKS_DIR / "_bootstrap.py", root / "hooks")
    if layout == "checkout":  # a checkout or the plugin: the package beside the hooks
        (root / "mem0_hooks").mkdir()
        (root / "mem0_hooks" / "__init__.py").write_text("")
    code = "import _bootstrap, mem0_hooks, os; print(os.path.dirname(mem0_hooks.__file__))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "CLAUDE_", "PYTHON"))}
    imported = subprocess.run(
        [str(python), "-S", "-c", code], cwd=root / "hooks", env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert imported == warm._package_of(str(root / "hooks"), str(python))
    assert imported == str((site if layout == "installed" else root) / "mem0_hooks")
