"""The Claude Code plugin: manifests, ``claude plugin validate``, and the real CLI running our hooks from the plugin.

The plugin runs the hooks with whatever ``python3`` is on PATH. Two stand-ins for it:
* a wrapper around this test interpreter (it has every dependency): the hooks run at once;
* a bare venv without our dependencies, as on a fresh machine: the first SessionStart starts the
  one-time bootstrap of ``${CLAUDE_PLUGIN_DATA}/venv`` and the hooks do nothing until it is ready.
``test_plugin_bootstrap_for_real`` pip-installs the dependencies; ``MEM0_HOOKS_SKIP_PIP=1`` skips it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import mem0_hooks
from mem0_hooks import install as inst
from tests.support.claude_cli import claude_env, hook_events, require_claude, run_claude
from tests.support.mock_anthropic import MockAnthropic
from tests.test_install import CLONE_IGNORE, SKIP_PIP, check_claude_remembers, make_fake_venv

REPO = Path(__file__).resolve().parents[1]
HOOK_FILES = inst.HOOK_FILES


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME with a space; no MEM0_HOOKS_HOME, so plugin hooks use ${CLAUDE_PLUGIN_DATA} as Claude Code sets it."""
    home = tmp_path / "my home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("MEM0_HOOKS_HOME", "CLAUDE_CONFIG_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


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
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python3")
    probe = subprocess.run([python, "-c", "import httpx"], capture_output=True)
    assert probe.returncode != 0, "the bare python3 must not have the dependencies"
    return python, {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def run_plugin_hook(
    python: str, event: str, payload: dict[str, Any], data: Path, root: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run one plugin hook the way hooks.json has Claude Code run it (exec form, plugin env vars)."""
    env = {k: v for k, v in os.environ.items() if k != "MEM0_HOOKS_HOME"}  # the plugin's data dir decides
    env.update(CLAUDE_PLUGIN_ROOT=str(root), CLAUDE_PLUGIN_DATA=str(data))
    return subprocess.run(
        [python, str(root / "hooks" / HOOK_FILES[event])],
        input=json.dumps(dict(payload, hook_event_name=event)),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def responses(stdout: str) -> dict[str, dict[str, Any]]:
    return {e["hook_event"]: e for e in hook_events(stdout) if e["subtype"] == "hook_response"}


def plugin_data(home: Path, plugin_id: str) -> Path:
    return home / ".claude" / "plugins" / "data" / plugin_id


def assert_consent_recorded(data: Path) -> None:
    config = (data / "config.yaml").read_text()
    assert "installing the mem0-hooks Claude Code plugin is the opt-in" in config
    assert "consent_given: true" in config


# -- manifests ---------------------------------------------------------------------------------------
def test_manifests_agree_with_the_package() -> None:
    plugin = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text())
    market = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text())
    assert plugin["name"] == "mem0-hooks"
    assert plugin["version"] == mem0_hooks.__version__
    [entry] = market["plugins"]
    assert entry["name"] == "mem0-hooks" and entry["source"] == "./"
    assert entry["version"] == mem0_hooks.__version__


def test_hooks_json_runs_each_event_with_python3_in_exec_form() -> None:
    hooks = json.loads((REPO / "hooks" / "hooks.json").read_text())["hooks"]
    assert list(hooks) == list(inst.EVENTS)
    for event, groups in hooks.items():
        [group] = groups
        assert "matcher" not in group
        [handler] = group["hooks"]
        assert handler["command"] == "python3"
        assert handler["args"] == [f"${{CLAUDE_PLUGIN_ROOT}}/hooks/{HOOK_FILES[event]}"]
        assert (REPO / "hooks" / HOOK_FILES[event]).is_file()
        assert handler["timeout"] == (inst.SESSION_END_TIMEOUT if event == "SessionEnd" else inst.DEFAULT_TIMEOUT)


def test_plugin_requirements_match_pyproject(monkeypatch: pytest.MonkeyPatch) -> None:
    deps = inst.plugin_requirements(str(REPO))
    assert {d.split(">")[0].split("=")[0] for d in deps} == {"httpx", "pydantic", "pyyaml", "filelock", "mcp"}
    monkeypatch.setitem(sys.modules, "tomllib", None)  # Python 3.10 reads the list without tomllib
    assert inst.plugin_requirements(str(REPO)) == deps


# -- the plugin hooks without Claude Code ------------------------------------------------------------
def test_first_run_without_dependencies_degrades_quietly(tmp_path: Path) -> None:
    python, _ = bare_python3(tmp_path)
    data = tmp_path / "plugin data"
    # A bootstrap that failed a moment ago is not retried yet: this test starts no pip.
    data.joinpath("state").mkdir(parents=True)
    data.joinpath("state", "plugin-venv.json").write_text(
        json.dumps({"state": "failed", "version": mem0_hooks.__version__, "at": time.time(), "error": "no network"})
    )

    start = run_plugin_hook(
        python, "SessionStart", {"session_id": "s1", "source": "startup", "cwd": str(tmp_path)}, data
    )
    prompt = run_plugin_hook(
        python, "UserPromptSubmit", {"session_id": "s1", "prompt": "hello there", "cwd": str(tmp_path)}, data
    )

    assert (start.returncode, start.stderr) == (0, "")
    assert "no network" in json.loads(start.stdout)["systemMessage"]
    assert (prompt.returncode, prompt.stdout, prompt.stderr) == (0, "", "")
    assert_consent_recorded(data)
    assert not (data / "venv").exists()


def test_consent_file_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path))
    (tmp_path / "config.yaml").write_text("privacy:\n  consent_given: false\n")
    assert inst.record_plugin_consent() is False
    assert (tmp_path / "config.yaml").read_text() == "privacy:\n  consent_given: false\n"


def test_the_plugins_first_run_lets_the_recall_limits_an_earlier_version_wrote_follow_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mem0_hooks import config

    monkeypatch.setenv("MEM0_HOOKS_HOME", str(tmp_path))
    assert inst.record_plugin_consent() is True
    text = (tmp_path / "config.yaml").read_text()
    (tmp_path / "config.yaml").write_text(text.replace(config._RECALL_DEFAULTS, config._OLD_RECALL_LINES))
    monkeypatch.setattr(inst, "dependencies_importable", lambda: True)
    monkeypatch.setattr(inst, "start_plugin_bootstrap", lambda root, data: True)  # no venv built here

    inst.plugin_first_run(str(REPO), str(tmp_path / "plugin data"), mem0_hooks.__version__)

    assert (tmp_path / "config.yaml").read_text() == text


def test_a_running_bootstrap_is_not_started_twice(tmp_path: Path) -> None:
    data = tmp_path / "plugin data"
    data.mkdir()
    fd = os.open(data / "venv.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert inst.start_plugin_bootstrap(str(REPO), str(data)) is True
        assert not (data / "venv").exists() and not (data / "state").exists()
    finally:
        os.close(fd)


def test_hooks_reexecute_in_the_plugin_venv(tmp_path: Path) -> None:
    """With the venv ready, a bare python3 hands the hook to the venv's interpreter, which has everything."""
    python, _ = bare_python3(tmp_path)
    data = tmp_path / "plugin data"
    make_fake_venv(data / "venv")
    Path(inst.plugin_ready_marker(str(data), mem0_hooks.__version__)).write_text("{}\n")
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
        python, "SessionStart", {"session_id": "s1", "source": "startup", "cwd": str(project)}, data
    )

    assert (start.returncode, start.stderr) == (0, "")
    context = json.loads(start.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "make rotate-keys" in context
    assert not (data / "venv.lock").exists()  # ready: no bootstrap was started


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
    assert sorted((h["event"], h["args"][0]) for h in report["provides"]["hooks"]) == sorted(
        (e, f"${{CLAUDE_PLUGIN_ROOT}}/hooks/{f}") for e, f in HOOK_FILES.items()
    )

    proc = claude("plugin", "validate", "--json", str(REPO / ".claude-plugin" / "marketplace.json"), home=home)
    report = json.loads(proc.stdout)
    assert report["success"] and report["manifest"]["errors"] == []


@pytest.mark.e2e
def test_plugin_dir_fires_our_hooks(home: Path, tmp_path: Path) -> None:
    require_claude()
    env = python3_with_dependencies(tmp_path)
    data = plugin_data(home, "mem0-hooks-inline")

    check_claude_remembers(home, data, sys.executable, env=env, extra_args=("--plugin-dir", str(REPO)))

    assert_consent_recorded(data)
    assert not (data / "venv").exists()  # this python3 had everything: no venv needed


@pytest.mark.e2e
def test_marketplace_add_and_install(home: Path, tmp_path: Path) -> None:
    import shutil

    clone = tmp_path / "src" / "mem0 hooks"
    shutil.copytree(REPO, clone, ignore=CLONE_IGNORE)

    added = claude("plugin", "marketplace", "add", str(clone), home=home)
    assert added.returncode == 0, added.stdout + added.stderr
    installed = claude("plugin", "install", "mem0-hooks@mem0-hooks", home=home)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = claude("plugin", "list", home=home)
    assert "mem0-hooks@mem0-hooks" in listed.stdout and "enabled" in listed.stdout
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    assert settings["enabledPlugins"] == {"mem0-hooks@mem0-hooks": True}

    project = home / "proj"
    project.mkdir()
    with MockAnthropic(reply="ok") as api:
        proc = run_claude("hello there", home=home, cwd=project, api=api, env=python3_with_dependencies(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert {e: (r["exit_code"], r["outcome"]) for e, r in responses(proc.stdout).items()} == {
        e: (0, "success") for e in ("SessionStart", "UserPromptSubmit", "Stop")
    }
    assert_consent_recorded(plugin_data(home, "mem0-hooks-mem0-hooks"))


@pytest.mark.e2e
@SKIP_PIP
def test_plugin_bootstrap_for_real(home: Path, tmp_path: Path) -> None:
    """A fresh machine: the first session starts the venv bootstrap; once it is done, memory works."""
    require_claude()
    _, env = bare_python3(tmp_path)
    data = plugin_data(home, "mem0-hooks-inline")
    project = home / "proj"
    project.mkdir()

    with MockAnthropic(reply="ok") as api:
        first = run_claude(
            "hello there", home=home, cwd=project, api=api, env=env, extra_args=["--plugin-dir", str(REPO)]
        )
    assert first.returncode == 0, first.stderr
    hooks = responses(first.stdout)
    assert {e: (r["exit_code"], r["outcome"]) for e, r in hooks.items()} == {
        e: (0, "success") for e in ("SessionStart", "UserPromptSubmit", "Stop")
    }
    assert "installing its Python dependencies" in json.loads(hooks["SessionStart"]["stdout"])["systemMessage"]

    # The bootstrap holds venv.lock until it is done: wait on it (a hung pip fails the test, not CI).
    fd = os.open(data / "venv.lock", os.O_RDWR)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the plugin bootstrap took over 10 minutes"))
    signal.alarm(600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        signal.alarm(0)
        os.close(fd)
    assert inst.plugin_status(str(data))["state"] == "ready", inst.plugin_status(str(data))
    assert os.path.exists(inst.plugin_ready_marker(str(data), mem0_hooks.__version__))

    check_claude_remembers(home, data, sys.executable, env=env, extra_args=("--plugin-dir", str(REPO)))


# -- the memory tools (MCP) from the plugin ------------------------------------------------------------
def test_the_manifest_declares_the_memory_server() -> None:
    plugin = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text())
    server = plugin["mcpServers"]["mem0-hooks"]
    assert server == {"command": "python3", "args": ["${CLAUDE_PLUGIN_ROOT}/hooks/mcp_server.py"]}
    assert (REPO / "hooks" / "mcp_server.py").is_file()


def test_the_memory_server_without_its_environment_fails_fast_and_starts_the_setup(tmp_path: Path) -> None:
    """A bare python3 (a fresh machine): the server must say why and exit, not hang on its open stdin."""
    python, _ = bare_python3(tmp_path)
    data = tmp_path / "plugin data"
    data.joinpath("state").mkdir(parents=True)  # a failed bootstrap a moment ago: not retried, no pip here
    data.joinpath("state", "plugin-venv.json").write_text(
        json.dumps({"state": "failed", "version": mem0_hooks.__version__, "at": time.time(), "error": "no network"})
    )
    env = {k: v for k, v in os.environ.items() if k != "MEM0_HOOKS_HOME"}
    env.update(CLAUDE_PLUGIN_ROOT=str(REPO), CLAUDE_PLUGIN_DATA=str(data))
    proc = subprocess.Popen(
        [python, str(REPO / "hooks" / "mcp_server.py")],
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
    env = python3_with_dependencies(tmp_path)
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)

    def reply(body: dict[str, Any]) -> Any:
        tool = offered_tool(body, "__search_memory")
        if tool_results(body) or tool is None:
            return "done"
        return ToolUse(tool, {"query": "deploy staging"})

    with MockAnthropic(reply=reply) as api:
        proc = run_claude(
            "search your memory", home=home, cwd=project, api=api, env=env,
            extra_args=["--plugin-dir", str(REPO), "--allowedTools", "mcp__plugin_mem0-hooks_mem0-hooks__search_memory"],
        )
        requests = list(api.requests)

    assert proc.returncode == 0, proc.stderr
    first = json.dumps(requests[0])
    for name in ("search_memory", "add_memories", "list_memories", "delete_memories", "delete_all_memories"):
        assert f"mcp__plugin_mem0-hooks_mem0-hooks__{name}" in first
    answered = [r for body in requests[1:] for r in tool_results(body)]
    assert answered and not answered[0].get("is_error"), answered
    assert '\\"memories\\"' in json.dumps(answered[0]["content"])
