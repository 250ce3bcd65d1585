"""Imports are a budget: what the real hook executables import on the hot path, proven from outside.

Each test runs a hook executable in a subprocess with ``python -X importtime``, which lists on stderr
every module the process imported, whatever way it exits (the runner leaves through ``os._exit``, so an
``atexit`` dump would never run). The hooks run without ``-S`` here so that httpx, pydantic, yaml and
filelock are importable: an import that happened shows up, it cannot fail silently for lack of a path.
Each test also checks that the hook did its work, so a hook that crashed early cannot pass by importing
little.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mem0_hooks import breaker, config, paths
from tests.support.hooks import HOOK_FILES, HOOKS_DIR, injected_context, stop_event

HEAVY = ("httpx", "pydantic", "yaml", "filelock")


def imported_modules(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines: ``import time: self | cumulative | <indent>name``."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                names.add(name)
    return names


def run_traced(
    event: str, payload: dict, *, cwd: Path, covers: str = "mem0_hooks.events.runner", flags: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """Run ``hooks/<event>.py`` as Claude Code does (JSON on stdin), tracing its imports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [sys.executable, *flags, "-X", "importtime", str(HOOKS_DIR / HOOK_FILES[event])],
        input=json.dumps(payload).encode(),
        capture_output=True,
        env=env,
        cwd=str(cwd),
        timeout=60,
        check=False,
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, stderr[-2000:]
    modules = imported_modules(stderr)
    assert covers in modules, "the trace did not cover the hook"
    return proc, modules


def heavy_imports(modules: set[str]) -> list[str]:
    """Heavy dependencies, and the modules of the commands no hook needs (import, export, migrate)."""
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in COMMANDS_ONLY)


COMMANDS_ONLY = ("mem0_hooks.history", "mem0_hooks.migrate", "mem0_hooks.cli.import_cmd", "mem0_hooks.cli.export")


def log_lines() -> list[str]:
    """The data dir's log, line by line ([] before anything was logged)."""
    try:
        with open(paths.log_file(), encoding="utf-8") as fh:
            return fh.readlines()
    except FileNotFoundError:
        return []


def log_errors() -> list[str]:
    return [line for line in log_lines() if " ERROR " in line]


def _log_tail(lines: int = 30) -> str:
    """The end of the data dir's log, for an assertion's message (what the warm process said it did)."""
    return "log:\n" + "".join(log_lines()[-lines:])


@pytest.fixture(autouse=True)
def hooks_do_their_own_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """The budget is for a hook that does its own work (the first of a data dir, or with the warm
    process off): a warm process started by one traced hook would answer the next one."""
    monkeypatch.setenv("MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS", "false")


def _prompt(project: Path, session: str, text: str) -> dict:
    return {
        "session_id": session,
        "transcript_path": str(project / "t.jsonl"),
        "cwd": str(project),
        "hook_event_name": "UserPromptSubmit",
        "prompt": text,
    }


def _seed_local_store(project: Path, prefix: str = "m") -> None:
    from mem0_hooks.backends.base import MemoryItem
    from mem0_hooks.backends.local import LocalStore

    store = LocalStore()
    store.add(
        [
            MemoryItem(
                id=f"{prefix}{n}",
                text=f"The stripe webhook retries use an idempotency key (note {n}).",
                role="user" if n % 2 else "assistant",
                created_at=f"2026-11-0{n % 9 + 1}T10:00:00Z",
                session_id="old-session",
                project=str(project),
                seq=n,
            )
            for n in range(1, 21)
        ]
    )
    store.close()


def test_local_recall_hooks_import_no_heavy_dependency(data_home: Path, project: Path) -> None:
    _seed_local_store(project)
    config.load()  # the cache is warm in real use: install validates once
    prompt = _prompt(project, "s-budget", "How do the stripe webhook retries use the idempotency key?")

    proc, modules = run_traced("UserPromptSubmit", prompt, cwd=project)
    assert "idempotency key" in injected_context(proc, "UserPromptSubmit")  # it really recalled
    assert heavy_imports(modules) == []
    assert "mem0_hooks.backends.local" in modules
    from mem0_hooks import injections

    assert "mem0_hooks.injections" in modules and len(injections.read()) == 1  # the record, after the answer

    start = {
        "session_id": "s-start",
        "transcript_path": str(project / "t.jsonl"),
        "cwd": str(project),
        "hook_event_name": "SessionStart",
        "source": "startup",
    }
    proc, modules = run_traced("SessionStart", start, cwd=project)
    assert "stripe webhook" in injected_context(proc, "SessionStart")
    assert heavy_imports(modules) == []
    assert log_errors() == []


def test_a_project_identified_by_its_git_remote_costs_no_import(data_home: Path, project: Path, tmp_path: Path) -> None:
    """Reading the remote from .git/config (a worktree's .git file followed) and recording the project
    start no process and import nothing a project without a remote does not: this runs on every prompt."""
    main = tmp_path / "main-checkout"
    (main / ".git" / "worktrees" / "feature").mkdir(parents=True)
    (main / ".git" / "config").write_text(
        '[core]\n\tbare = false\n[remote "origin"]\n\turl = https://bot:tok3n@github.com/Acme/Shop.git\n'
    )
    (main / ".git" / "worktrees" / "feature" / "commondir").write_text("../..\n")
    tree = tmp_path / "feature"
    tree.mkdir()
    (tree / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'feature'}\n")
    _seed_local_store(tree)  # stored under the directory, as before identities came from remotes
    _seed_local_store(project, prefix="plain")  # a project without a remote: the baseline
    config.load()
    question = "How do the stripe webhook retries use the idempotency key?"
    proc, _ = run_traced("UserPromptSubmit", _prompt(tree, "s-first", question), cwd=tree)  # moves them
    assert "idempotency key" in injected_context(proc, "UserPromptSubmit")
    proc, with_remote = run_traced("UserPromptSubmit", _prompt(tree, "s-remote", question), cwd=tree)
    assert "idempotency key" in injected_context(proc, "UserPromptSubmit")
    run_traced("UserPromptSubmit", _prompt(project, "s-first-plain", question), cwd=project)
    proc, without = run_traced("UserPromptSubmit", _prompt(project, "s-plain", question), cwd=project)
    assert "idempotency key" in injected_context(proc, "UserPromptSubmit")
    assert "mem0_hooks.project_map" in with_remote
    assert sorted(with_remote - without) == [] and heavy_imports(with_remote) == []
    assert "subprocess" not in with_remote
    from mem0_hooks.backends.local import LocalStore

    store = LocalStore()
    try:
        assert {m.project for m in store.list()} == {"github.com/acme/shop", str(project)}
    finally:
        store.close()
    assert log_errors() == []


def test_stop_imports_no_heavy_dependency(data_home: Path, project: Path) -> None:
    config.load()
    transcript = project / "t.jsonl"
    lines = [
        {
            "type": "user",
            "message": {"role": "user", "content": "Please rename the ledger helpers."},
            "timestamp": "2026-11-20T10:00:00Z",
            "uuid": "u1",
        },
        {
            "type": "assistant",
            "message": {"id": "msg_1", "role": "assistant", "content": [{"type": "text", "text": "Renamed them all."}]},
            "timestamp": "2026-11-20T10:00:05Z",
            "uuid": "a1",
        },
    ]
    transcript.write_text("".join(json.dumps(line) + "\n" for line in lines))
    stop = stop_event("s-stop", project, "Renamed them all.", transcript)

    proc, modules = run_traced("Stop", stop, cwd=project)
    assert proc.stdout == b""
    assert heavy_imports(modules) == []
    assert "mem0_hooks.transcript" in modules
    from mem0_hooks import queue

    assert queue.depth() + _stored_count() >= 2  # the two turns were captured (the flusher may have moved them)
    assert log_errors() == []


def _stored_count() -> int:
    from mem0_hooks.backends.local import LocalStore

    if not os.path.exists(paths.store_db()):
        return 0
    store = LocalStore()
    try:
        return store.count()
    finally:
        store.close()


def test_remote_backend_with_open_breaker_does_not_import_httpx(data_home: Path, project: Path) -> None:
    (data_home / "config.yaml").write_text(
        config.default_yaml(backend="server", consent=True, url="http://127.0.0.1:9")
    )
    config.load()
    breaker.record_failure("server", "connection refused (test)", 600)
    assert breaker.is_open("server")
    prompt = _prompt(project, "s-open", "How do the stripe webhook retries use the idempotency key?")

    proc, modules = run_traced("UserPromptSubmit", prompt, cwd=project)
    assert proc.stdout == b""  # nothing to inject while the store is unreachable
    assert "mem0_hooks.breaker" in modules  # recall reached the breaker check
    assert heavy_imports(modules) == []
    from mem0_hooks import queue

    assert queue.depth() == 1  # the prompt was still captured, for delivery once the store is back


def test_a_hook_served_by_the_warm_process_imports_next_to_nothing(
    data_home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a prompt costs in the steady state: a Python start, the relay and a socket. Run with ``-S``
    as installed, where not even ``os`` is imported (site would import it otherwise)."""
    import time

    from mem0_hooks import relay

    monkeypatch.delenv("MEM0_HOOKS_CLAUDE_CODE_WARM_PROCESS")
    _seed_local_store(project)
    config.load()
    question = "How do the stripe webhook retries use the idempotency key?"
    run_traced("UserPromptSubmit", _prompt(project, "s-first", question), cwd=project)  # starts it
    deadline = time.monotonic() + 10
    while not any(p["alive"] for p in relay.describe(os.path.abspath(paths.home()))):
        assert time.monotonic() < deadline, "no warm process came up"
        time.sleep(0.05)
    proc, modules = run_traced(
        "UserPromptSubmit", _prompt(project, "s-warm", question), cwd=project, covers="mem0_hooks.relay", flags=("-S",)
    )
    assert "idempotency key" in injected_context(proc, "UserPromptSubmit"), _log_tail()
    done_elsewhere = {"sqlite3", "_sqlite3", "mem0_hooks.events.runner", "mem0_hooks.config", "mem0_hooks.recall"}
    done_elsewhere |= {"os", "posixpath", "mem0_hooks.paths"}
    assert sorted(modules & done_elsewhere) == [] and heavy_imports(modules) == []


# Modules of the hot path that only this package's own hot-path modules import; a regression here is
# visible in bench/hooks.py long before it is in a test of behaviour.
OWN_HOT_MODULES = (
    "mem0_hooks.relay",
    "mem0_hooks.events.runner",
    "mem0_hooks.events.user_prompt_submit",
    "mem0_hooks.events.session_start",
    "mem0_hooks.events.stop",
    "mem0_hooks.config",
    "mem0_hooks.session",
    "mem0_hooks.gates",
    "mem0_hooks.project",
    "mem0_hooks.project_map",
    "mem0_hooks.paths",
    "mem0_hooks.log",
    "mem0_hooks.transcript",
    "mem0_hooks.injections",
)
COSTLY_STDLIB = (
    "typing",
    "dataclasses",
    "inspect",
    "hashlib",
    "signal",
    "subprocess",
    "asyncio",
    "email",
    "datetime",
    "threading",
)


def test_the_hot_path_modules_do_not_import_costly_stdlib(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    code = "; ".join(f"import {name}" for name in OWN_HOT_MODULES)
    proc = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = imported_modules(proc.stderr)
    assert set(OWN_HOT_MODULES) <= modules
    assert sorted(m for m in modules if m.split(".")[0] in COSTLY_STDLIB) == []
