"""The Claude Code plugin: manifests, ``claude plugin validate``, and the real CLI running our hooks from the plugin.

The plugin runs each hook as ``sh hooks/plugin-hook.sh <file>``: with the data dir's venv
(``~/.local/share/mem0-hooks/venv``, shared with the install.sh route) once it exists, else with
``python3``. Stand-ins used here:
* a bare venv without our dependencies as ``python3``, as on a fresh machine: the first hooks capture
  with the standard library and start the one-time setup;
* a ready-made venv in the data dir (``make_fake_venv``: this interpreter's packages, no pip): the setup
  finds everything in place and needs no network.
``test_plugin_first_session_right_after_install_for_real`` pip-installs for real; ``MEM0_HOOKS_SKIP_PIP=1``
skips it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import mem0_hooks
from mem0_hooks import install as inst
from mem0_hooks import plugin
from tests.support.claude_cli import claude_env, hook_events, require_claude, run_claude
from tests.support.mock_anthropic import MockAnthropic
from tests.test_install import CLONE_IGNORE, SKIP_PIP, make_fake_venv

REPO = Path(__file__).resolve().parents[1]
HOOK_FILES = inst.HOOK_FILES
PLUGIN_ID = "mem0-hooks-mem0-hooks"  # ${CLAUDE_PLUGIN_DATA} is ~/.claude/plugins/data/<this>


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME with a space; no MEM0_HOOKS_HOME: the plugin uses the default data dir, as for a user."""
    home = tmp_path / "my home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("MEM0_HOOKS_HOME", "CLAUDE_CONFIG_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


def data_dir(home: Path) -> Path:
    return home / ".local" / "share" / "mem0-hooks"


def python3_with_dependencies(tmp_path: Path) -> dict[str, str]:
    """PATH whose python3 is this interpreter (a wrapper script, so its own venv stays in effect)."""
    folder = tmp_path / "bin with deps"
    folder.mkdir()
    wrapper = folder / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def bare_python3(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A python3 with the standard library only, like a fresh machine's; and a PATH that finds it first."""
    venv = tmp_path / "bare python"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python3")
    probe = subprocess.run([python, "-c", "import httpx"], capture_output=True)
    assert probe.returncode != 0, "the bare python3 must not have the dependencies"
    return python, {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def run_plugin_hook(
    home: Path, path_env: dict[str, str], event: str, payload: dict[str, Any], root: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run one plugin hook the way hooks.json has Claude Code run it (exec form: sh plugin-hook.sh <file>)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "CLAUDE_"))}
    env.update(path_env)
    env.update(
        HOME=str(home),
        CLAUDE_PLUGIN_ROOT=str(root),
        CLAUDE_PLUGIN_DATA=str(home / ".claude" / "plugins" / "data" / PLUGIN_ID),
    )
    return subprocess.run(
        ["sh", str(root / "hooks" / "plugin-hook.sh"), HOOK_FILES[event]],
        input=json.dumps(dict(payload, hook_event_name=event)),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def responses(stdout: str) -> dict[str, dict[str, Any]]:
    return {e["hook_event"]: e for e in hook_events(stdout) if e["subtype"] == "hook_response"}


def plugin_data(home: Path, plugin_id: str = PLUGIN_ID) -> Path:
    return home / ".claude" / "plugins" / "data" / plugin_id


def assert_consent_recorded(data: Path) -> None:
    consent = json.loads((data / "consent.json").read_text())
    assert consent["consent_given"] is True and consent["source"] == plugin.PLUGIN_CONSENT
    assert not (data / "config.yaml").exists()  # the defaults apply: nothing to parse before the dependencies


def wait_for_setup(data: Path, timeout: int = 600) -> dict[str, Any]:
    """Wait on the lock the setup holds for its whole run (a hung pip fails the test, not CI)."""
    fd = os.open(plugin.setup_lock(str(data)), os.O_RDWR)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"the plugin setup took over {timeout} s"))
    signal.alarm(timeout)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        signal.alarm(0)
        os.close(fd)
    return plugin.plugin_status(str(data))


def stored_texts(data: Path, timeout: float = 20.0) -> list[str]:
    """The local store's texts once the queue is empty (the flusher runs detached)."""
    deadline = time.monotonic() + timeout
    pending = data / "queue" / "pending"
    while time.monotonic() < deadline and pending.is_dir() and any(pending.glob("*.json")):
        time.sleep(0.1)
    with sqlite3.connect(data / "memories.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT text FROM memories")]


# -- manifests ---------------------------------------------------------------------------------------
def test_manifests_agree_with_the_package() -> None:
    plugin_json = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text())
    market = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text())
    assert plugin_json["name"] == "mem0-hooks"
    assert plugin_json["version"] == mem0_hooks.__version__
    [entry] = market["plugins"]
    assert entry["name"] == "mem0-hooks" and entry["source"] == "./"
    assert entry["version"] == mem0_hooks.__version__


def test_hooks_json_runs_each_event_through_the_launcher_in_exec_form() -> None:
    hooks = json.loads((REPO / "hooks" / "hooks.json").read_text())["hooks"]
    assert list(hooks) == list(inst.EVENTS)
    for event, groups in hooks.items():
        [group] = groups
        assert "matcher" not in group
        [handler] = group["hooks"]
        assert handler["command"] == "sh"
        assert handler["args"] == ["${CLAUDE_PLUGIN_ROOT}/hooks/plugin-hook.sh", HOOK_FILES[event]]
        assert (REPO / "hooks" / HOOK_FILES[event]).is_file()
        assert handler["timeout"] == (inst.SESSION_END_TIMEOUT if event == "SessionEnd" else inst.DEFAULT_TIMEOUT)


def test_the_launcher_finds_the_data_dir_as_the_package_does(tmp_path: Path) -> None:
    """plugin-hook.sh computes the data dir in the shell: it must be paths.home() for every environment."""
    script = (REPO / "hooks" / "plugin-hook.sh").read_text()
    line = next(x for x in script.splitlines() if x.startswith("d="))
    for env in ({"HOME": "/h"}, {"HOME": "/h", "XDG_DATA_HOME": "/x"}, {"HOME": "/h", "MEM0_HOOKS_HOME": "/m"}):
        env.setdefault("XDG_DATA_HOME", "")
        shell = subprocess.run(["sh", "-c", f'{line}; printf %s "$d"'], env=env, capture_output=True, text=True)
        code = "from mem0_hooks import paths; print(paths.home(), end='')"
        python = subprocess.run(
            [sys.executable, "-c", code],
            env=dict(env, PYTHONPATH=str(REPO)),
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert shell.stdout == python.stdout, env


def test_plugin_requirements_match_pyproject(monkeypatch: pytest.MonkeyPatch) -> None:
    deps = plugin.plugin_requirements(str(REPO))
    assert {d.split(">")[0].split("=")[0].split("<")[0] for d in deps} == {
        "httpx",
        "pydantic",
        "pyyaml",
        "filelock",
        "mcp",
        "numpy",
        "tokenizers",
        "wordllama",
    }
    monkeypatch.setitem(sys.modules, "tomllib", None)  # Python 3.10 reads the list without tomllib
    assert plugin.plugin_requirements(str(REPO)) == deps


# -- the plugin hooks without Claude Code ------------------------------------------------------------
def _no_setup_for_now(data: Path) -> None:
    """A setup that failed a moment ago is not retried yet: the test starts no pip."""
    data.joinpath("state").mkdir(parents=True, exist_ok=True)
    data.joinpath("state", "plugin-setup.json").write_text(
        json.dumps({"state": "failed", "version": mem0_hooks.__version__, "at": time.time(), "error": "no network"})
    )


def test_the_first_hooks_capture_with_the_standard_library_alone(home: Path, tmp_path: Path) -> None:
    _, path_env = bare_python3(tmp_path)
    data = data_dir(home)
    _no_setup_for_now(data)
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)

    start = run_plugin_hook(
        home, path_env, "SessionStart", {"session_id": "s1", "source": "startup", "cwd": str(project)}
    )
    prompt = run_plugin_hook(
        home,
        path_env,
        "UserPromptSubmit",
        {"session_id": "s1", "prompt": "we deploy with make ship", "cwd": str(project)},
    )
    stop = run_plugin_hook(
        home,
        path_env,
        "Stop",
        {"session_id": "s1", "cwd": str(project), "last_assistant_message": "Noted: make ship.", "transcript_path": ""},
    )

    assert (start.returncode, start.stderr) == (0, "")
    assert "no network" in json.loads(start.stdout)["systemMessage"]  # the failed setup is reported
    assert [(p.returncode, p.stdout, p.stderr) for p in (prompt, stop)] == [(0, "", "")] * 2
    assert_consent_recorded(data)
    pending = sorted((data / "queue" / "pending").glob("*.json"))
    texts = [json.loads(p.read_text())["item"]["text"] for p in pending]
    assert texts == ["we deploy with make ship", "Noted: make ship."]  # both captured, waiting for the flusher
    assert not (data / "venv").exists()
    assert not plugin_data(home).exists()  # nothing is kept where `claude plugin uninstall` deletes


def test_the_setup_with_the_dependencies_in_place_needs_no_pip(home: Path, tmp_path: Path) -> None:
    """A venv that has everything (the install.sh route's, or a reinstall's): the setup marks it ready,
    links the command and flushes what the first hook captured."""
    _, path_env = bare_python3(tmp_path)
    data = data_dir(home)
    make_fake_venv(data / "venv")
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)

    prompt = run_plugin_hook(
        home,
        path_env,
        "UserPromptSubmit",
        {"session_id": "s1", "prompt": "we deploy with make ship", "cwd": str(project)},
    )
    assert (prompt.returncode, prompt.stderr) == (0, "")
    status = wait_for_setup(data)

    assert status["state"] == "ready", status
    assert Path(plugin.plugin_ready_marker(str(data), mem0_hooks.__version__)).exists()
    assert os.readlink(inst.bin_link()) == str(data / "venv" / "bin" / "mem0-hooks")
    assert "we deploy with make ship" in stored_texts(data)


def test_consent_already_decided_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path))
    withdrawn = json.dumps({"consent_given": False, "at": "2026-01-01T00:00:00Z", "source": "config set"})
    (tmp_path / "consent.json").write_text(withdrawn)
    assert plugin.record_plugin_consent() is False
    assert (tmp_path / "consent.json").read_text() == withdrawn


def test_the_plugins_first_run_lets_the_recall_limits_an_earlier_version_wrote_follow_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mem0_hooks import config

    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path))
    text = config.default_yaml(consent=True).replace(config._GENERATED, config._GENERATED_BEFORE[0])
    (tmp_path / "config.yaml").write_text(text.replace(config._RECALL_DEFAULTS, config._OLD_RECALL_LINES))
    monkeypatch.setattr(plugin, "start_plugin_setup", lambda root, data: True)  # no venv built here

    plugin.plugin_first_run(str(REPO), str(tmp_path), mem0_hooks.__version__)

    assert (tmp_path / "config.yaml").read_text() == text


def test_a_running_setup_is_not_started_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    fd = os.open(plugin.setup_lock(str(data)), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert plugin.start_plugin_setup(str(REPO), str(data)) is True
        assert not (data / "venv").exists() and not (data / "state").exists()
    finally:
        os.close(fd)


def test_a_ready_plugin_hook_runs_in_the_venv_at_once(home: Path, tmp_path: Path) -> None:
    """With the venv ready, the launcher starts the venv's interpreter: one start, no setup."""
    _, path_env = bare_python3(tmp_path)
    data = data_dir(home)
    make_fake_venv(data / "venv")
    Path(plugin.plugin_ready_marker(str(data), mem0_hooks.__version__)).write_text("{}\n")
    project = tmp_path / "proj"
    project.mkdir()
    env = dict(os.environ, MEM0_HOOKS_HOME=str(data))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mem0_hooks.cli.main",
            "add",
            "rotate keys with make rotate-keys",
            "--project",
            str(project),
        ],
        check=True,
        env=env,
        capture_output=True,
        cwd=REPO,
    )

    start = run_plugin_hook(
        home, path_env, "SessionStart", {"session_id": "s1", "source": "startup", "cwd": str(project)}
    )

    assert (start.returncode, start.stderr) == (0, "")
    context = json.loads(start.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "make rotate-keys" in context
    assert not Path(plugin.setup_lock(str(data))).exists()  # ready: no setup was started


# -- what earlier versions kept in ${CLAUDE_PLUGIN_DATA} ------------------------------------------
def _old_plugin_data(old: Path, texts: list[str]) -> None:
    from mem0_hooks.backends.base import MemoryItem
    from mem0_hooks.backends.local import LocalStore

    old.mkdir(parents=True)
    store = LocalStore(str(old / "memories.sqlite3"))
    store.add(
        [
            MemoryItem(id=f"old-{n}", text=text, role="user", created_at="2026-11-01T10:00:00Z", session_id="s0", seq=n)
            for n, text in enumerate(texts, start=1)
        ]
    )
    store.close()
    (old / "queue" / "pending").mkdir(parents=True)
    (old / "queue" / "pending" / "0001-abc.json").write_text('{"item": {"id": "abc"}}')
    (old / "config.yaml").write_text("privacy:\n  consent_given: true\nmemory:\n  max_context_memories: 7\n")
    (old / "api_key").write_text("m0-old\n")
    (old / "venv" / "bin").mkdir(parents=True)


def test_the_old_plugin_data_moves_to_the_data_dir(tmp_path: Path) -> None:
    old, data = tmp_path / "plugin data", tmp_path / "data"
    _old_plugin_data(old, ["the build uses bazel", "we ship on fridays"])

    moved = plugin.migrate_plugin_data(str(old), str(data))

    assert moved == ["2 memories", "1 queued item(s)", "config.yaml", "api_key"]
    with sqlite3.connect(data / "memories.sqlite3") as db:
        assert sorted(r[0] for r in db.execute("SELECT text FROM memories")) == [
            "the build uses bazel",
            "we ship on fridays",
        ]
    assert (data / "queue" / "pending" / "0001-abc.json").exists()
    assert "max_context_memories: 7" in (data / "config.yaml").read_text()
    assert sorted(os.listdir(old)) == [plugin.MOVED_NOTE]  # the old venv went too
    assert plugin.migrate_plugin_data(str(old), str(data)) == []  # nothing left to move


def test_the_old_plugin_memories_join_a_data_dir_that_has_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mem0_hooks.backends.base import MemoryItem
    from mem0_hooks.backends.local import LocalStore

    old, data = tmp_path / "plugin data", tmp_path / "data"
    _old_plugin_data(old, ["the build uses bazel"])
    data.mkdir()
    (data / "config.yaml").write_text("backend: local\n")
    store = LocalStore(str(data / "memories.sqlite3"))
    store.add([MemoryItem(id="new-1", text="the staging db is aurora", role="user", created_at="2026-12-01T10:00:00Z")])
    store.close()

    plugin.migrate_plugin_data(str(old), str(data))

    monkeypatch.setenv("MEM0_HOOKS_HOME", str(data))
    store = LocalStore()
    assert sorted(m.text for m in store.list()) == ["the build uses bazel", "the staging db is aurora"]
    assert store.search("bazel build", project="", limit=5)  # indexed, not only copied
    store.close()
    assert (data / "config.yaml").read_text() == "backend: local\n"  # the data dir's own config stays


# -- the real Claude Code CLI ------------------------------------------------------------------------
def claude(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    with MockAnthropic() as api:
        return subprocess.run(
            [require_claude(), *args],
            capture_output=True,
            text=True,
            env=claude_env(home, api),
            stdin=subprocess.DEVNULL,
            timeout=120,
        )


@pytest.mark.e2e
def test_claude_plugin_validate(home: Path) -> None:
    proc = claude("plugin", "validate", str(REPO), home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation passed" in proc.stdout

    proc = claude("plugin", "validate", "--json", str(REPO / ".claude-plugin" / "plugin.json"), home=home)
    report = json.loads(proc.stdout)
    assert report["success"] and report["manifest"]["errors"] == [] and report["manifest"]["warnings"] == []
    assert sorted((h["event"], *h["args"]) for h in report["provides"]["hooks"]) == sorted(
        (e, "${CLAUDE_PLUGIN_ROOT}/hooks/plugin-hook.sh", f) for e, f in HOOK_FILES.items()
    )

    proc = claude("plugin", "validate", "--json", str(REPO / ".claude-plugin" / "marketplace.json"), home=home)
    report = json.loads(proc.stdout)
    assert report["success"] and report["manifest"]["errors"] == []


FACT = "Our staging database is called aurora-blue and listens on port 6543."
QUESTION = "Which port does the staging database listen on?"


def one_turn(home: Path, project: Path, prompt: str, env: dict[str, str], extra: tuple[str, ...] = ()) -> str:
    """One ``claude -p`` session; every hook must succeed. Returns what the model was sent."""
    with MockAnthropic(reply="Noted.") as api:
        proc = run_claude(prompt, home=home, cwd=project, api=api, env=env, extra_args=list(extra))
        body = api.raw_text()
    assert proc.returncode == 0, proc.stderr
    outcomes = {e: (r["exit_code"], r["outcome"]) for e, r in responses(proc.stdout).items()}
    assert outcomes == {e: (0, "success") for e in ("SessionStart", "UserPromptSubmit", "Stop")}, proc.stdout[-2000:]
    return body


def install_from_marketplace(home: Path, tmp_path: Path) -> None:
    """``claude plugin marketplace add <a clean clone>`` and ``claude plugin install``, as a user would."""
    import shutil

    clone = tmp_path / "src" / "mem0 hooks"
    if not clone.exists():
        shutil.copytree(REPO, clone, ignore=CLONE_IGNORE)
        added = claude("plugin", "marketplace", "add", str(clone), home=home)
        assert added.returncode == 0, added.stdout + added.stderr
    installed = claude("plugin", "install", "mem0-hooks@mem0-hooks", home=home)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = claude("plugin", "list", home=home)
    assert "mem0-hooks@mem0-hooks" in listed.stdout and "enabled" in listed.stdout
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["enabledPlugins"] == {"mem0-hooks@mem0-hooks": True}


@pytest.mark.e2e
def test_plugin_dir_fires_our_hooks_and_remembers(home: Path, tmp_path: Path) -> None:
    require_claude()
    _, path_env = bare_python3(tmp_path)
    data = data_dir(home)
    make_fake_venv(data / "venv")  # the dependencies in place: the setup needs no pip
    project = home / "proj"
    (project / ".git").mkdir(parents=True)

    one_turn(home, project, FACT, path_env, ("--plugin-dir", str(REPO)))
    assert wait_for_setup(data)["state"] == "ready"
    assert FACT in stored_texts(data)
    body = one_turn(home, project, QUESTION, path_env, ("--plugin-dir", str(REPO)))

    assert "aurora-blue" in body and "recalled-memories" in body
    assert_consent_recorded(data)


@pytest.mark.e2e
def test_marketplace_install_uninstall_reinstall_keeps_the_memories(home: Path, tmp_path: Path) -> None:
    require_claude()
    _, path_env = bare_python3(tmp_path)
    data = data_dir(home)
    make_fake_venv(data / "venv")
    project = home / "proj"
    (project / ".git").mkdir(parents=True)
    install_from_marketplace(home, tmp_path)

    one_turn(home, project, FACT, path_env)
    assert wait_for_setup(data)["state"] == "ready"
    assert FACT in stored_texts(data)
    assert not any(p.name.startswith("memories") for p in plugin_data(home).glob("*"))  # nothing kept there

    removed = claude("plugin", "uninstall", "mem0-hooks@mem0-hooks", home=home)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not plugin_data(home).exists()  # Claude Code deleted the plugin's data dir ...
    assert FACT in stored_texts(data)  # ... and the memories are where they were
    install_from_marketplace(home, tmp_path)
    body = one_turn(home, project, QUESTION, path_env)
    assert "aurora-blue" in body and "recalled-memories" in body


@pytest.mark.e2e
@SKIP_PIP
def test_plugin_first_session_right_after_install_for_real(home: Path, tmp_path: Path) -> None:
    """A fresh machine (python3 with the standard library only): install the plugin from a marketplace,
    run a one-turn session at once, and the next session recalls it; the `mem0-hooks` command works."""
    require_claude()
    _, path_env = bare_python3(tmp_path)
    data = data_dir(home)
    project = home / "proj"
    (project / ".git").mkdir(parents=True)
    install_from_marketplace(home, tmp_path)

    one_turn(home, project, FACT, path_env)  # right after install: nothing is set up yet
    pending = [json.loads(p.read_text())["item"]["text"] for p in (data / "queue" / "pending").glob("*.json")]
    stored = stored_texts(data, timeout=0) if (data / "memories.sqlite3").exists() else []
    assert FACT in pending + stored  # captured before any dependency was installed

    status = wait_for_setup(data)
    assert status["state"] == "ready", status
    assert FACT in stored_texts(data)  # the setup flushed what the first session captured
    body = one_turn(home, project, QUESTION, path_env)
    assert "aurora-blue" in body and "recalled-memories" in body

    command = home / ".local" / "bin" / "mem0-hooks"
    found = subprocess.run(
        [str(command), "search", "staging database port"],
        capture_output=True,
        text=True,
        cwd=project,
        env={k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "CLAUDE_"))} | {"HOME": str(home)},
        timeout=60,
    )
    assert found.returncode == 0 and "aurora-blue" in found.stdout, found.stdout + found.stderr


# -- the memory tools (MCP) from the plugin ------------------------------------------------------------
def test_the_manifest_declares_the_memory_server() -> None:
    plugin = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text())
    server = plugin["mcpServers"]["mem0-hooks"]
    assert server == {"command": "sh", "args": ["${CLAUDE_PLUGIN_ROOT}/hooks/plugin-hook.sh", "mcp_server.py"]}
    assert (REPO / "hooks" / "mcp_server.py").is_file()


def test_the_memory_server_without_its_environment_fails_fast_and_starts_the_setup(home: Path, tmp_path: Path) -> None:
    """A bare python3 (a fresh machine): the server must say why and exit, not hang on its open stdin."""
    _, path_env = bare_python3(tmp_path)
    _no_setup_for_now(data_dir(home))  # a setup that failed a moment ago: not retried, no pip here
    env = {k: v for k, v in os.environ.items() if k != "MEM0_HOOKS_HOME"}
    env.update(path_env, CLAUDE_PLUGIN_ROOT=str(REPO), CLAUDE_PLUGIN_DATA=str(tmp_path / "plugin data"))
    proc = subprocess.Popen(
        ["sh", str(REPO / "hooks" / "plugin-hook.sh"), "mcp_server.py"],  # as plugin.json has Claude Code run it
        stdin=subprocess.PIPE,  # held open, as Claude Code holds it
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()  # type: ignore[union-attr]
    assert code == 1 and out == ""
    assert "the memory tools start once the plugin's Python environment is ready" in err


@pytest.mark.e2e
def test_plugin_dir_offers_the_memory_tools(home: Path, tmp_path: Path) -> None:
    """Claude Code starts the plugin's server and runs its search_memory for the model."""
    from tests.support.mock_anthropic import ToolUse, offered_tool, tool_results

    require_claude()
    env = python3_with_dependencies(tmp_path) | {"MCP_CONNECTION_NONBLOCKING": "false"}  # connect before asking
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)

    def reply(body: dict[str, Any]) -> Any:
        tool = offered_tool(body, "__search_memory")
        if tool_results(body) or tool is None:
            return "done"
        return ToolUse(tool, {"query": "deploy staging"})

    with MockAnthropic(reply=reply) as api:
        proc = run_claude(
            "search your memory",
            home=home,
            cwd=project,
            api=api,
            env=env,
            extra_args=[
                "--plugin-dir",
                str(REPO),
                "--allowedTools",
                "mcp__plugin_mem0-hooks_mem0-hooks__search_memory",
            ],
        )
        requests = list(api.requests)

    assert proc.returncode == 0, proc.stderr
    first = json.dumps(requests[0])
    for name in ("search_memory", "add_memories", "list_memories", "delete_memories", "delete_all_memories"):
        assert f"mcp__plugin_mem0-hooks_mem0-hooks__{name}" in first
    answered = [r for body in requests[1:] for r in tool_results(body)]
    assert answered and not answered[0].get("is_error"), answered
    assert '\\"memories\\"' in json.dumps(answered[0]["content"])
