"""The settings-route installer: the settings merge, install/uninstall, install.sh, and the real CLI firing our hooks.

Every test runs in a temp HOME whose name holds a space (conftest already keeps the real one out of
reach). The fast tests call ``mem0_hooks.install`` / ``cli.main`` directly, against a "fake venv" that
looks like the one install.sh makes but borrows this interpreter's packages instead of running pip.
``test_install_sh_for_real`` runs install.sh itself (venv + pip); ``MEM0_HOOKS_SKIP_PIP=1`` skips it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import site
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mem0_hooks import install as inst
from mem0_hooks.cli.main import main as cli_main
from tests.support.claude_cli import hook_events, require_claude, run_claude
from tests.support.mock_anthropic import MockAnthropic

REPO = Path(__file__).resolve().parents[1]
SKIP_PIP = pytest.mark.skipif(
    bool(os.environ.get("MEM0_HOOKS_SKIP_PIP")), reason="MEM0_HOOKS_SKIP_PIP is set: no venv + pip install tests"
)
CLONE_IGNORE = shutil.ignore_patterns(
    ".git", ".cache", ".venv", "__pycache__", "build", "*.egg-info", ".pytest_cache", ".hypothesis"
)
OUR_EVENTS = ["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd", "PreCompact"]


# -- helpers -----------------------------------------------------------------------------------------
def make_fake_venv(venv: Path) -> Path:
    """A venv like install.sh's, in milliseconds: no pip; its site-packages links to this interpreter's packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    for source in site.getsitepackages():
        for name in os.listdir(source):
            if name.endswith(".pth") or name.startswith("__editable__") or name.startswith("mem0_hooks"):
                continue
            if not (target / name).exists():
                os.symlink(os.path.join(source, name), target / name)
    os.symlink(REPO / "mem0_hooks", target / "mem0_hooks")
    script = venv / "bin" / "mem0-hooks"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nfrom mem0_hooks.cli.main import main\nraise SystemExit(main())\n")
    script.chmod(0o755)
    return venv


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME with a space in it, the default data dir (no MEM0_HOOKS_HOME), the default ~/.claude."""
    home = tmp_path / "my home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("MEM0_HOOKS_HOME", "CLAUDE_CONFIG_DIR", "MEM0_API_KEY", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def data(home: Path) -> Path:
    """The data dir with its (fake) venv, as install.sh leaves it before handing over to Python."""
    data = home / ".local" / "share" / "mem0-hooks"
    data.mkdir(parents=True, mode=0o700)
    make_fake_venv(data / "venv")
    return data


def settings_file(home: Path) -> Path:
    return home / ".claude" / "settings.json"


def write_json(path: Path, obj: Any, indent: int = 2) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=indent) + "\n"
    path.write_text(text)
    return text


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def install_here(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "install", "--yes", "--source", str(REPO), *extra)


def ours_by_event(settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event, handler in inst.our_handlers(settings):
        found.setdefault(event, []).append(handler)
    return found


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + inst.BACKUP_SUFFIX + "*"))


USER_SETTINGS: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "env": {"FOO": "bar"},
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "SessionStart": [{"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done", "timeout": 3}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "~/.claude/hooks/stop.py"}]}],
    },
    "statusLine": {"type": "command", "command": "echo status"},
}


# -- the handler and its quoting ---------------------------------------------------------------------
def _sh_words(command: str) -> list[str]:
    """The words /bin/sh itself makes of a command string."""
    return subprocess.run(
        ["/bin/sh", "-c", f'set -- {command}; for a in "$@"; do printf \'%s\\n\' "$a"; done'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


@pytest.mark.parametrize("data_dir", ["/home/a b/.local/share/mem0-hooks", '/tmp/it\'s "odd" $HOME `x`'])
def test_hook_command_survives_sh_and_is_recognised(data_dir: str) -> None:
    layout = inst.Layout(data_dir)
    handler = inst.handler_for(layout, "Stop")
    argv = subprocess.run(
        ["/bin/sh", "-c", 'for a in "$@"; do printf "%s\\n" "$a"; done', "sh", *shlex.split(handler["command"])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # What /bin/sh itself makes of the command string must be the three words we meant.
    sh_words = _sh_words(handler["command"])
    assert sh_words == [layout.python, "-S", layout.hook_script("Stop")]
    assert argv.splitlines() == sh_words
    assert inst.ours(handler) == "stop.py"
    assert inst.data_dir_of(handler) == data_dir


def test_handlers_cover_five_events_with_timeouts_and_no_matcher(tmp_path: Path) -> None:
    merged = inst.merge_hooks({}, inst.handlers_for(inst.Layout(str(tmp_path)), timeout=12))
    assert list(merged["hooks"]) == OUR_EVENTS
    for event, groups in merged["hooks"].items():
        assert groups == [{"hooks": [groups[0]["hooks"][0]]}]  # no matcher: every source fires, fork too
        handler = groups[0]["hooks"][0]
        assert handler["type"] == "command"
        assert handler["timeout"] == (5 if event == "SessionEnd" else 12)
        assert inst.ours(handler) == inst.HOOK_FILES[event]


def test_only_the_exact_shape_is_ours() -> None:
    assert inst.ours({"type": "command", "command": "python3 ~/.claude/hooks/stop.py"}) is None
    assert inst.ours({"type": "command", "command": '"/x/venv/bin/python" -S "/y/hooks/stop.py"'}) is None
    assert inst.ours({"type": "command", "command": '"/x/venv/bin/python" -S "/x/hooks/other.py"'}) is None
    assert inst.ours({"type": "command", "command": "python3", "args": ["/x/hooks/stop.py"]}) is None
    assert inst.ours({"type": "http", "url": "http://x"}) is None
    assert inst.ours({"type": "command", "command": 'unterminated "quote'}) is None
    assert inst.ours({"type": "command", "command": '"/x/venv/bin/python" -S "/x/hooks/stop.py"'}) == "stop.py"
    quick = '"/bin/bash" "/x/hooks/warm_client.sh" user_prompt_submit.py'
    assert inst.ours({"type": "command", "command": quick}) == "user_prompt_submit.py"
    assert inst.data_dir_of({"type": "command", "command": quick}) == "/x"
    assert inst.ours({"type": "command", "command": '"/bin/bash" "/x/hooks/warm_client.sh" stop.py'}) is None
    assert inst.ours({"type": "command", "command": '"/bin/zsh" "/x/hooks/warm_client.sh" session_start.py'}) is None
    assert inst.ours({"type": "command", "command": '"/bin/bash" "/x/other/warm_client.sh" session_start.py'}) is None


@pytest.mark.parametrize("data_dir", ["/home/a b/.local/share/mem0-hooks", '/tmp/it\'s "odd" $HOME `x`'])
def test_quick_command_survives_sh_and_is_recognised(data_dir: str) -> None:
    layout = inst.Layout(data_dir, bash="/usr/bin/bash")
    handler = inst.handler_for(layout, "UserPromptSubmit")
    sh_words = _sh_words(handler["command"])
    assert sh_words == ["/usr/bin/bash", layout.quick_client, "user_prompt_submit.py"]
    assert inst.ours(handler) == "user_prompt_submit.py"
    assert inst.data_dir_of(handler) == data_dir
    assert shlex.split(inst.handler_for(layout, "Stop")["command"])[1] == "-S"  # the other events stay Python
    no_bash = inst.handler_for(inst.Layout(data_dir, bash=None), "UserPromptSubmit")
    assert inst.ours(no_bash) == "user_prompt_submit.py" and " -S " in no_bash["command"]


def test_settings_snippet_is_our_block_with_home_placeholders() -> None:
    snippet = json.loads((REPO / "settings.snippet.json").read_text())
    assert list(snippet) == ["hooks"]
    expected = inst.merge_hooks({}, inst.handlers_for(inst.Layout("$HOME/.local/share/mem0-hooks")))
    assert [inst.ours(h) for _, h in inst.our_handlers(snippet)] == [
        inst.ours(h) for _, h in inst.our_handlers(expected)
    ]
    for event in OUR_EVENTS:
        [handler] = snippet["hooks"][event][0]["hooks"]
        if event in inst.QUICK_EVENTS:
            assert handler["command"].startswith('bash "$HOME/.local/share/mem0-hooks/hooks/warm_client.sh" ')
        else:
            assert handler["command"].startswith('"$HOME/.local/share/mem0-hooks/venv/bin/python" -S "$HOME/')
        assert handler["timeout"] == expected["hooks"][event][0]["hooks"][0]["timeout"]


_user_handler = st.builds(
    lambda c, t: {"type": "command", "command": c, **({"timeout": t} if t else {})},
    st.sampled_from(
        ["echo a", "notify-send b", "python3 ~/.claude/hooks/stop.py", "'/x/venv/bin/python' /x/hooks/stop.py"]
    ),
    st.integers(0, 30),
)
_our_handler = st.builds(
    lambda d, e: inst.handler_for(inst.Layout(d), e), st.sampled_from(["/old", "/a b/c"]), st.sampled_from(OUR_EVENTS)
)
_group = st.builds(
    lambda m, hs: ({"matcher": m} if m else {}) | {"hooks": hs},
    st.sampled_from(["", "startup", "Bash"]),
    st.lists(st.one_of(_user_handler, _our_handler), max_size=3),
)
_settings = st.builds(
    lambda hooks, extra: {**extra, "hooks": hooks} if hooks is not None else extra,
    st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from([*OUR_EVENTS, "PreToolUse", "SubagentStop"]), st.lists(_group, max_size=3)),
    ),
    st.dictionaries(st.sampled_from(["model", "env", "theme"]), st.text(max_size=5), max_size=2),
)


def _without_empties(settings: dict[str, Any]) -> dict[str, Any]:
    hooks = {e: g for e, g in (settings.get("hooks") or {}).items() if g}
    return {**{k: v for k, v in settings.items() if k != "hooks"}, **({"hooks": hooks} if hooks else {})}


@settings(max_examples=300, deadline=None)
@given(_settings)
def test_merge_and_remove_properties(before: dict[str, Any]) -> None:
    handlers = inst.handlers_for(inst.Layout("/new data"))
    merged = inst.merge_hooks(before, handlers)
    assert inst.merge_hooks(merged, handlers) == merged  # idempotent
    assert {e: [h for h in hs] for e, hs in ours_by_event(merged).items()} == {e: [handlers[e]] for e in OUR_EVENTS}
    # The user's part is untouched. (An event list or "hooks" object the user left empty goes once ours
    # leave it: empty ones mean nothing to Claude Code, and the file does not say who made them.)
    assert _without_empties(inst.remove_hooks(merged)) == _without_empties(inst.remove_hooks(before))
    assert inst.our_handlers(inst.remove_hooks(merged)) == []
    assert [k for k in merged if k != "hooks"] == [k for k in before if k != "hooks"]


# -- install -----------------------------------------------------------------------------------------
def test_fresh_install(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = install_here(capsys)

    assert code == 0, err
    settings = json.loads(settings_file(home).read_text())
    found = ours_by_event(settings)
    assert sorted(found) == sorted(OUR_EVENTS) and all(len(v) == 1 for v in found.values())
    assert settings["hooks"]["Stop"][0]["hooks"][0]["command"] == (
        f'"{data}/venv/bin/python" -S "{data}/hooks/stop.py"'
    )
    assert stat.S_IMODE(settings_file(home).stat().st_mode) == 0o600
    for name in [*inst.HOOK_FILES.values(), "_bootstrap.py"]:
        assert (data / "hooks" / name).read_bytes() == (REPO / "hooks" / name).read_bytes()
    assert "consent_given: true" not in (data / "config.yaml").read_text()  # consent is recorded beside it
    consent = json.loads((data / "consent.json").read_text())
    assert consent["consent_given"] is True and consent["source"] == "./install.sh --yes"
    assert stat.S_IMODE((data / "consent.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "config.yaml").stat().st_mode) == 0o600
    link = home / ".local" / "bin" / "mem0-hooks"
    assert os.readlink(link) == str(data / "venv" / "bin" / "mem0-hooks")
    assert "not on your PATH" in out
    assert "doctor" in out.splitlines()[-1]
    assert backups(settings_file(home)) == []  # nothing to back up in a fresh HOME


def test_second_install_keeps_exactly_one_copy(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert install_here(capsys)[0] == 0
    first = settings_file(home).read_text()

    code, out, _ = install_here(capsys)

    assert code == 0
    assert settings_file(home).read_text() == first
    assert "already wired" in out
    assert all(len(v) == 1 for v in ours_by_event(json.loads(first)).values())
    assert backups(settings_file(home)) == []


def test_install_keeps_every_other_key_and_hook(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = write_json(settings_file(home), USER_SETTINGS, indent=4)
    settings_file(home).chmod(0o640)

    code, out, err = install_here(capsys)

    assert code == 0, err
    text = settings_file(home).read_text()
    settings = json.loads(text)
    assert inst.remove_permissions(inst.remove_hooks(settings)) == USER_SETTINGS  # everything of the user's, in order
    assert list(settings) == list(USER_SETTINGS)
    assert settings["hooks"]["Stop"][0] == USER_SETTINGS["hooks"]["Stop"][0]
    assert all(len(v) == 1 for v in ours_by_event(settings).values()) and len(ours_by_event(settings)) == 5
    assert text.startswith('{\n    "model"')  # the file's own indent is kept
    assert stat.S_IMODE(settings_file(home).stat().st_mode) == 0o640
    [backup] = backups(settings_file(home))
    assert backup.read_text() == original
    assert str(backup) in out


def test_upgrade_from_another_data_dir_replaces_ours_in_place(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = inst.Layout("/opt/old mem0")
    old_stop = inst.handler_for(old, "Stop")
    before = {
        "hooks": {
            "SessionStart": [{"matcher": "startup|resume", "hooks": [inst.handler_for(old, "SessionStart")]}],
            "Stop": [
                {
                    "hooks": [
                        {"type": "command", "command": "echo first"},
                        old_stop,
                        {"type": "command", "command": "echo last"},
                    ]
                }
            ],
            "SubagentStop": [{"hooks": [inst.handler_for(old, "Stop")]}],
        }
    }
    write_json(settings_file(home), before)

    code, out, _ = install_here(capsys)

    assert code == 0
    hooks = json.loads(settings_file(home).read_text())["hooks"]
    new = inst.Layout(str(data))
    assert hooks["SessionStart"] == [{"hooks": [inst.handler_for(new, "SessionStart")]}]  # the old matcher went too
    assert [h["command"] for h in hooks["Stop"][0]["hooks"]] == [
        "echo first",
        inst.handler_for(new, "Stop")["command"],
        "echo last",
    ]
    assert len(hooks["Stop"]) == 1
    assert "SubagentStop" not in hooks  # a stray copy of ours elsewhere is removed, and its empty list with it
    assert "/opt/old mem0" in out


def test_hook_timeout_comes_from_config(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "config.yaml").write_text("claude_code:\n  hook_timeout_seconds: 25\n")

    assert install_here(capsys)[0] == 0

    hooks = json.loads(settings_file(home).read_text())["hooks"]
    assert {e: g[0]["hooks"][0]["timeout"] for e, g in hooks.items()} == {
        "SessionStart": 25,
        "UserPromptSubmit": 25,
        "Stop": 25,
        "SessionEnd": 5,
        "PreCompact": 25,
    }
    assert (data / "config.yaml").read_text() == "claude_code:\n  hook_timeout_seconds: 25\n"  # kept as it was


def _written_before_0_2(backend: str = "local") -> str:
    """config.yaml as an install before 0.2.0 wrote it: the recall limits of the time set, not commented."""
    from mem0_hooks import config

    text = config.default_yaml(backend=backend, consent=True).replace(config._GENERATED, config._GENERATED_BEFORE[0])
    assert config._RECALL_DEFAULTS in text
    return text.replace(config._RECALL_DEFAULTS, config._OLD_RECALL_LINES)


def test_an_upgrade_lets_the_recall_limits_an_earlier_install_wrote_follow_the_defaults(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mem0_hooks import config

    (data / "config.yaml").write_text(_written_before_0_2())
    (data / "config.yaml").chmod(0o644)

    code, out, _ = install_here(capsys)

    assert code == 0 and "recall limits an earlier install wrote" in out
    text = (data / "config.yaml").read_text()
    # as this version writes it (the header of the time kept), consent kept
    assert text == config.default_yaml(consent=True).replace(config._GENERATED, config._GENERATED_BEFORE[0])
    assert stat.S_IMODE((data / "config.yaml").stat().st_mode) == 0o600
    loaded = config.load()["memory"]
    assert (loaded["max_context_memories"], loaded["context_budget_chars"]) == (24, 4600)


def test_an_upgrade_changes_a_symlinked_config_where_it_lives(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "config.yaml").write_text(_written_before_0_2())
    (data / "config.yaml").symlink_to(dotfiles / "config.yaml")

    assert install_here(capsys)[0] == 0

    assert (data / "config.yaml").is_symlink()
    assert "  # context_budget_chars: 4600" in (dotfiles / "config.yaml").read_text()


def test_an_upgrade_keeps_recall_limits_set_through_the_cli_and_says_what_they_cost(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data / "config.yaml").write_text(_written_before_0_2())
    code, _, _ = run_cli(capsys, "config", "set", "memory.context_budget_chars", "4000")  # rewritten, no comments
    assert code == 0
    chosen = (data / "config.yaml").read_text()
    assert "  max_context_memories: 12\n  context_budget_chars: 4000\n" in chosen

    code, out, _ = install_here(capsys)

    assert code == 0
    assert (data / "config.yaml").read_text() == chosen
    assert "the defaults before 0.2.0" in out


def test_the_refresh_leaves_files_install_did_not_write_as_they_are(tmp_path: Path) -> None:
    from mem0_hooks import config

    crlf = tmp_path / "crlf.yaml"
    crlf.write_bytes(_written_before_0_2().replace("\n", "\r\n").encode())
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(_written_before_0_2().encode() + b"# caf\xe9\n")
    for path in (crlf, latin):
        before = path.read_bytes()
        assert config.refresh_generated_defaults(str(path)) is False
        assert path.read_bytes() == before


def test_an_upgrade_leaves_a_remote_backends_recall_limits(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The relevance cut is the local store's: a remote store's blocks keep the size they had.
    (data / "config.yaml").write_text(_written_before_0_2("server"))

    assert install_here(capsys)[0] == 0

    assert (data / "config.yaml").read_text() == _written_before_0_2("server")


@pytest.mark.parametrize("broken", ['{"hooks": {', "[1, 2]", '{"a": 1,}'])
def test_invalid_settings_are_refused_and_left_alone(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    settings_file(home).parent.mkdir(parents=True)
    settings_file(home).write_text(broken)

    code, out, err = install_here(capsys)

    assert code == 1
    assert err.startswith("error: ") and str(settings_file(home)) in err
    assert "Nothing was changed" in err
    assert settings_file(home).read_text() == broken
    assert os.listdir(settings_file(home).parent) == ["settings.json"]  # no backup, no temp file
    assert not (data / "hooks").exists() and not (data / "config.yaml").exists()


def test_dry_run_prints_the_diff_and_writes_nothing(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = write_json(settings_file(home), USER_SETTINGS)
    before = sorted(p.relative_to(home) for p in home.rglob("*"))

    code, out, _ = install_here(capsys, "--dry-run")

    assert code == 0
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == before
    assert settings_file(home).read_text() == original
    assert f"--- {settings_file(home)}" in out and f"+++ {settings_file(home)}" in out
    stop = f'"command": "\\"{data}/venv/bin/python\\" -S \\"{data}/hooks/stop.py\\""'
    assert any(line.startswith("+") and stop in line for line in out.splitlines())
    assert "nothing was changed" in out


def test_project_scope_writes_settings_local(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = home / "work" / "my project"
    project.mkdir(parents=True)

    code, out, _ = install_here(capsys, "--project", str(project))

    assert code == 0
    local = project / ".claude" / "settings.local.json"
    assert len(ours_by_event(json.loads(local.read_text()))) == 5
    assert not settings_file(home).exists()
    assert "project scope" in out

    code, out, _ = run_cli(capsys, "uninstall", "--project", str(project))
    assert code == 0
    assert json.loads(local.read_text()) == {}


def test_api_key_only_from_the_environment(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = install_here(capsys, "--backend", "platform", "--api-key", "m0-secret")
    assert code == 1 and "MEM0_API_KEY" in err

    monkeypatch.setenv("MEM0_API_KEY", "m0-from-env")
    code, out, err = install_here(capsys, "--backend", "platform")

    assert code == 0, err
    key = data / "api_key"
    assert key.read_text().strip() == "m0-from-env"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "m0-from-env" not in out
    assert "backend: platform" in (data / "config.yaml").read_text()
    assert "MEM0_HOOKS_HOME" not in os.environ


def test_symlinked_settings_are_written_through(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dotfiles = home / "dotfiles" / "claude-settings.json"
    write_json(dotfiles, {"model": "x"})
    settings_file(home).parent.mkdir(parents=True)
    settings_file(home).symlink_to(dotfiles)

    assert install_here(capsys)[0] == 0

    assert settings_file(home).is_symlink()
    assert len(ours_by_event(json.loads(dotfiles.read_text()))) == 5


def test_claude_config_dir_is_respected(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / "alt claude"))
    assert install_here(capsys)[0] == 0
    assert len(ours_by_event(json.loads((home / "alt claude" / "settings.json").read_text()))) == 5
    assert not settings_file(home).exists()


def test_without_a_venv_install_says_to_run_install_sh(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = install_here(capsys)
    assert code == 1 and "install.sh" in err
    assert not settings_file(home).exists()


def test_interactive_install_asks_for_consent_once(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["n"])
    monkeypatch.setattr(inst, "_is_tty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))

    code, out, _ = run_cli(capsys, "install", "--source", str(REPO))
    assert code == 0
    assert json.loads((data / "consent.json").read_text())["consent_given"] is False
    assert "capture is off until you consent" in out

    code, out, _ = run_cli(capsys, "install", "--source", str(REPO))  # asked once: no second question
    assert code == 0


def test_a_concurrent_edit_of_the_settings_is_not_lost(home: Path, tmp_path: Path) -> None:
    path = settings_file(home)
    write_json(path, {"model": "a"})
    layout = inst.Layout(str(tmp_path / "data"))
    calls = []

    def merge_while_claude_writes(settings: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(settings))
        if len(calls) == 1:  # Claude Code saves a setting between our read and our write
            write_json(path, {"model": "a", "theme": "dark"})
        return inst.merge_hooks(settings, inst.handlers_for(layout))

    change = inst.update_settings(str(path), merge_while_claude_writes)

    assert change.changed and len(calls) == 2
    final = json.loads(path.read_text())
    assert final["theme"] == "dark" and len(ours_by_event(final)) == 5


# -- uninstall ---------------------------------------------------------------------------------------
def test_uninstall_removes_exactly_ours(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_json(settings_file(home), USER_SETTINGS)
    assert install_here(capsys)[0] == 0

    code, out, _ = run_cli(capsys, "uninstall")

    assert code == 0
    assert json.loads(settings_file(home).read_text()) == USER_SETTINGS
    assert (data / "config.yaml").exists() and (data / "venv").exists()  # memories and config stay
    assert "--purge" in out

    assert run_cli(capsys, "uninstall")[0] == 0  # again: nothing to do, nothing broken
    assert json.loads(settings_file(home).read_text()) == USER_SETTINGS


def test_uninstall_drops_the_hooks_key_it_alone_filled(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_json(settings_file(home), {"model": "x"})
    assert install_here(capsys)[0] == 0
    assert run_cli(capsys, "uninstall")[0] == 0
    assert json.loads(settings_file(home).read_text()) == {"model": "x"}


def test_uninstall_dry_run_changes_nothing(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert install_here(capsys)[0] == 0
    installed = settings_file(home).read_text()

    code, out, _ = run_cli(capsys, "uninstall", "--purge", "--dry-run")

    assert code == 0
    assert settings_file(home).read_text() == installed
    assert data.exists()
    assert "-" * 3 + f" {settings_file(home)}" in out and "would delete" in out


def test_purge_deletes_data_and_link_and_says_so(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_json(settings_file(home), USER_SETTINGS)
    assert install_here(capsys)[0] == 0
    link = home / ".local" / "bin" / "mem0-hooks"

    code, _, err = run_cli(capsys, "uninstall", "--purge")  # not a terminal and no --yes: refuse
    assert code == 1 and "--yes" in err and data.exists()

    code, out, _ = run_cli(capsys, "uninstall", "--purge", "--yes")

    assert code == 0
    assert not data.exists() and not os.path.lexists(link)
    assert f"deleted {data}" in out and f"deleted {link}" in out
    assert json.loads(settings_file(home).read_text()) == USER_SETTINGS


def test_install_leaves_a_foreign_command_link_alone(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = home / ".local" / "bin" / "mem0-hooks"
    link.parent.mkdir(parents=True)
    link.write_text("#!/bin/sh\necho pipx version\n")

    code, out, _ = install_here(capsys)

    assert code == 0
    assert link.read_text() == "#!/bin/sh\necho pipx version\n"
    assert "not ours" in out
    run_cli(capsys, "uninstall", "--purge", "--yes")
    assert link.exists()


# -- the installed hooks, run as Claude Code runs them -------------------------------------------------
def test_installed_hook_runs_under_dash_S_and_uses_its_own_data_dir(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert install_here(capsys)[0] == 0
    command = json.loads(settings_file(home).read_text())["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"]
    payload = {
        "session_id": "s1",
        "hook_event_name": "UserPromptSubmit",
        "prompt": "how do we rotate the keys",
        "cwd": str(tmp_path),
    }
    env = dict(os.environ, MEM0_HOOKS_HOME=str(tmp_path / "elsewhere"))

    proc = subprocess.run(
        ["/bin/sh", "-c", command], input=json.dumps(payload), capture_output=True, text=True, env=env, timeout=30
    )

    assert proc.returncode == 0 and proc.stderr == ""
    assert not (tmp_path / "elsewhere").exists()  # the installed copy pins its own data dir
    log = data / "mem0-hooks.log"
    assert not log.exists() or " ERROR " not in log.read_text()
    assert (data / "sessions").exists() or (data / "queue").exists()


# -- the real Claude Code CLI ------------------------------------------------------------------------
def _responses(stdout: str) -> dict[str, tuple[int, str]]:
    return {
        e["hook_event"]: (e["exit_code"], e["outcome"]) for e in hook_events(stdout) if e["subtype"] == "hook_response"
    }


def _replay(data: Path, python: str) -> None:
    """Deliver the queue now (the background flusher may not have finished yet)."""
    env = dict(os.environ, MEM0_HOOKS_HOME=str(data))
    proc = subprocess.run(
        [python, "-m", "mem0_hooks.cli.main", "replay"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def check_claude_remembers(
    home: Path, data: Path, python: str, *, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()
) -> None:
    """Two ``claude -p`` sessions: our hooks fire in both, and the second is told what the first said."""
    project = home / "proj ect"
    project.mkdir(exist_ok=True)
    debug = home / "claude-debug.log"
    with MockAnthropic(reply="The staging server deploys with make deploy-staging.") as api:
        first = run_claude(
            "how do we deploy the staging server",
            home=home,
            cwd=project,
            api=api,
            env=env,
            extra_args=[*extra_args, "--debug-file", str(debug)],
        )
        assert first.returncode == 0, first.stderr
        assert _responses(first.stdout) == {e: (0, "success") for e in ("SessionStart", "UserPromptSubmit", "Stop")}
        assert "make deploy-staging" not in api.raw_text()
        _replay(data, python)
        second = run_claude(
            "and the production one?", home=home, cwd=project, api=api, env=env, extra_args=[*extra_args]
        )
        assert second.returncode == 0, second.stderr
        assert _responses(second.stdout) == {e: (0, "success") for e in ("SessionStart", "UserPromptSubmit", "Stop")}
        assert "make deploy-staging" in api.raw_bodies[-1]  # recalled from the first session
    # SessionEnd is not in the stream; the debug log says whether it ran.
    assert any("SessionEnd" in line and "status 0" in line for line in debug.read_text().splitlines())


@pytest.mark.e2e
def test_claude_fires_the_installed_hooks(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_claude()
    assert install_here(capsys)[0] == 0
    check_claude_remembers(home, data, sys.executable)


@pytest.mark.e2e
@SKIP_PIP
def test_install_sh_for_real(home: Path, tmp_path: Path) -> None:
    """install.sh on a machine with only python3: venv, pip install, settings, link; then Claude uses it."""
    require_claude()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEM0_", "CLAUDE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PYTHON=sys.executable)
    # A clone somewhere else, deleted after the install: nothing may depend on it.
    clone = tmp_path / "a clone"
    shutil.copytree(REPO, clone, ignore=CLONE_IGNORE)

    def install_sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(clone / "install.sh"), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )

    proc = install_sh("--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = home / ".local" / "share" / "mem0-hooks"
    assert "==> creating the virtualenv" in proc.stdout and "doctor" in proc.stdout.splitlines()[-1]
    assert not (clone / "build").exists() and not list(clone.glob("*.egg-info"))
    settings = json.loads(settings_file(home).read_text())
    assert len(ours_by_event(settings)) == 5
    first_settings = settings_file(home).read_text()

    proc = install_sh("--yes")  # an upgrade in place: same settings, still one copy
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reusing the virtualenv" in proc.stdout
    assert settings_file(home).read_text() == first_settings

    shutil.rmtree(clone)
    link = home / ".local" / "bin" / "mem0-hooks"
    doctor = subprocess.run([str(link), "doctor", "--json"], capture_output=True, text=True, env=env, timeout=60)
    checks = {c["check"]: c for c in json.loads(doctor.stdout)}
    assert checks["claude code"]["ok"] and checks["config"]["ok"] and checks["consent"]["ok"], doctor.stdout
    assert checks["memory tools"]["ok"] and "search_memory" in checks["memory tools"]["message"], doctor.stdout

    check_claude_remembers(home, data, str(data / "venv" / "bin" / "python"))

    shutil.copytree(REPO, clone, ignore=CLONE_IGNORE)
    proc = install_sh("--uninstall", "--purge", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not data.exists() and not os.path.lexists(link)
    assert "hooks" not in json.loads(settings_file(home).read_text())
    assert f"deleted {data}" in proc.stdout


# -- past sessions ---------------------------------------------------------------------------------------------
def _past_session(home: Path) -> int:
    """One past Claude Code session in ~/.claude/projects; returns how many turns the hooks keep of it."""
    from tests.support.transcripts import claude_session

    _, kept = claude_session(
        home / ".claude" / "projects", "s-past", home / "old-project", [("Why Postgres?", "JSONB.")]
    )
    return len(kept)


def _stored() -> int:
    from mem0_hooks import paths
    from tests.support.stores import local_rows

    return len(local_rows(paths.store_db()))


@pytest.fixture
def no_nice(monkeypatch: pytest.MonkeyPatch) -> None:
    from mem0_hooks.cli import import_cmd

    monkeypatch.setattr(import_cmd, "IMPORT_NICENESS", 0)


def test_import_history_imports_past_sessions_and_yes_alone_does_not(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], no_nice: None
) -> None:
    turns = _past_session(home)
    code, out, _ = install_here(capsys)
    assert code == 0 and "past" not in out
    assert _stored() == 0

    code, out, err = install_here(capsys, "--import-history")
    assert code == 0, err
    assert "==> importing past Claude Code sessions" in out and f"imported {turns} turn(s)" in out
    assert "  - imported past Claude Code sessions" in out
    assert _stored() == turns
    code, out, _ = run_cli(capsys, "install", "--yes", "--dry-run", "--import-history", "--source", str(REPO))
    assert code == 0 and "would import past Claude Code sessions" in out


def test_an_interactive_install_asks_once_whether_to_import(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_nice: None
) -> None:
    turns = _past_session(home)
    asked: list[str] = []
    answers = iter(["y", "n"])  # consent: yes; import: not now

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    monkeypatch.setattr(inst, "_is_tty", lambda: True)
    monkeypatch.setattr("builtins.input", answer)
    code, out, _ = run_cli(capsys, "install", "--source", str(REPO))
    assert code == 0
    assert "You have 1 past Claude Code session(s)" in out
    assert len(asked) == 2 and asked[1].startswith("Import them now?") and _stored() == 0

    code, out, _ = run_cli(capsys, "install", "--source", str(REPO))  # the answer is remembered: no question
    assert code == 0 and len(asked) == 2 and "past Claude Code session" not in out

    (data / "state" / inst.HISTORY_CHOICE).unlink()  # a yes this time
    answers = iter(["y"])
    code, out, _ = run_cli(capsys, "install", "--source", str(REPO))
    assert code == 0 and len(asked) == 3
    assert _stored() == turns


# -- the memory tools' MCP server ---------------------------------------------------------------------
READ_RULES = ["mcp__mem0-hooks__search_memory", "mcp__mem0-hooks__list_memories"]
# What Claude Code keeps in ~/.claude.json besides MCP servers (abridged from a real 2.1.330 file).
CLAUDE_STATE: dict[str, Any] = {
    "numStartups": 12,
    "theme": "dark",
    "mcpServers": {"github": {"type": "stdio", "command": "npx", "args": ["-y", "gh-mcp"], "env": {}}},
    "projects": {"/w/app": {"allowedTools": [], "mcpServers": {}, "hasTrustDialogAccepted": True}},
}


def claude_json(home: Path) -> Path:
    return home / ".claude.json"


def test_install_registers_the_memory_tools_at_user_scope(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = write_json(claude_json(home), CLAUDE_STATE)
    claude_json(home).chmod(0o600)

    code, out, err = install_here(capsys)

    assert code == 0, err
    state = json.loads(claude_json(home).read_text())
    assert state["mcpServers"]["mem0-hooks"] == {
        "type": "stdio",
        "command": str(data / "venv" / "bin" / "python"),
        "args": ["-m", "mem0_hooks.cli.main", "mcp"],
        "env": {"MEM0_HOOKS_HOME": str(data)},
    }
    assert inst.remove_mcp_server(state) == CLAUDE_STATE  # everything of Claude Code's is kept
    assert stat.S_IMODE(claude_json(home).stat().st_mode) == 0o600
    assert [p.read_text() for p in backups(claude_json(home))] == [original]
    settings = json.loads(settings_file(home).read_text())
    assert settings["permissions"]["allow"] == READ_RULES  # reads without a prompt; writes and deletes still ask
    assert "registered the memory tools" in out

    assert install_here(capsys)[0] == 0  # again: nothing changes, no new backup
    assert json.loads(claude_json(home).read_text()) == state
    assert len(backups(claude_json(home))) == 1
    assert json.loads(settings_file(home).read_text())["permissions"]["allow"] == READ_RULES


def test_uninstall_takes_out_exactly_the_registration_and_the_rules(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_json(claude_json(home), CLAUDE_STATE)
    write_json(settings_file(home), USER_SETTINGS)
    assert install_here(capsys)[0] == 0

    code, out, _ = run_cli(capsys, "uninstall")

    assert code == 0
    assert json.loads(claude_json(home).read_text()) == CLAUDE_STATE
    assert json.loads(settings_file(home).read_text()) == USER_SETTINGS
    assert "removed the memory tools' MCP server" in out


def test_uninstall_drops_the_mcp_servers_key_it_alone_filled(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_json(claude_json(home), {"numStartups": 1})
    assert install_here(capsys)[0] == 0
    assert run_cli(capsys, "uninstall")[0] == 0
    assert json.loads(claude_json(home).read_text()) == {"numStartups": 1}
    assert "permissions" not in json.loads(settings_file(home).read_text())


@pytest.mark.parametrize("broken", ['{"numStartups": 3,\n  "theme": }\n'])
def test_an_invalid_claude_json_is_refused_with_line_and_column(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    claude_json(home).write_text(broken)

    code, _, err = install_here(capsys)

    assert code == 1
    assert str(claude_json(home)) in err and "line 2, column 12" in err and "Nothing was changed" in err
    assert claude_json(home).read_text() == broken
    assert not settings_file(home).exists() and not (data / "hooks").exists()  # refused before any change
    assert backups(claude_json(home)) == []


def test_mcp_enabled_false_registers_nothing_and_takes_back_a_registration(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_json(claude_json(home), CLAUDE_STATE)
    assert install_here(capsys)[0] == 0
    assert "mem0-hooks" in json.loads(claude_json(home).read_text())["mcpServers"]
    with (data / "config.yaml").open("a") as fh:
        fh.write("mcp:\n  enabled: false\n")

    code, out, err = install_here(capsys)

    assert code == 0, err
    assert json.loads(claude_json(home).read_text()) == CLAUDE_STATE
    assert "permissions" not in json.loads(settings_file(home).read_text())
    assert len(ours_by_event(json.loads(settings_file(home).read_text()))) == 5  # the hooks stay
    assert "mcp.enabled: false" in out


def test_a_server_of_that_name_we_did_not_write_is_left_alone(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = {"mcpServers": {"mem0-hooks": {"type": "http", "url": "https://example.test/mcp"}}}
    original = write_json(claude_json(home), theirs)

    code, out, _ = install_here(capsys)

    assert code == 0
    assert claude_json(home).read_text() == original
    assert "did not write" in out
    assert run_cli(capsys, "uninstall")[0] == 0
    assert claude_json(home).read_text() == original


def test_project_install_registers_at_local_scope(home: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = home / "work" / "my project"
    project.mkdir(parents=True)
    write_json(claude_json(home), CLAUDE_STATE)

    assert install_here(capsys, "--project", str(project))[0] == 0

    state = json.loads(claude_json(home).read_text())
    assert state["projects"][str(project)]["mcpServers"]["mem0-hooks"]["args"][-1] == "mcp"
    assert "mem0-hooks" not in state["mcpServers"]  # not in every project
    local = json.loads((project / ".claude" / "settings.local.json").read_text())
    assert local["permissions"]["allow"] == READ_RULES
    assert run_cli(capsys, "uninstall", "--project", str(project))[0] == 0
    assert inst.registered_mcp_server(json.loads(claude_json(home).read_text()), str(project)) is None


def test_claude_config_dir_holds_the_registration(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / "alt claude"))
    assert install_here(capsys)[0] == 0
    state = json.loads((home / "alt claude" / ".claude.json").read_text())
    assert inst.registered_mcp_server(state) is not None
    assert not claude_json(home).exists()


@pytest.mark.e2e
def test_claude_lists_the_installed_memory_server_as_connected(
    home: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real CLI reads the registration and starts the server: ``claude mcp list`` connects to it."""
    claude = require_claude()
    assert install_here(capsys)[0] == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE", "MEM0_"))}
    env.update(HOME=str(home), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
    proc = subprocess.run(
        [claude, "mcp", "list"], capture_output=True, text=True, env=env, cwd=home, timeout=120, check=False
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("mem0-hooks:")), "")
    assert "Connected" in line, proc.stdout + proc.stderr


def test_an_upgrade_replaces_the_python_commands_of_an_older_install_by_the_quick_client() -> None:
    old = inst.Layout("/d", bash=None)  # as every install before the quick client wrote them
    new = inst.Layout("/d", bash="/bin/bash")
    settings = inst.merge_hooks(
        {"hooks": {"UserPromptSubmit": [{"hooks": [{"type": "command", "command": "echo mine"}]}]}},
        inst.handlers_for(old),
    )
    upgraded = inst.merge_hooks(settings, inst.handlers_for(new))
    ours = [(event, h["command"]) for event, h in inst.our_handlers(upgraded)]
    assert sorted(event for event, _ in ours) == sorted(OUR_EVENTS)  # one each, no copy of the old ones left
    assert dict(ours)["UserPromptSubmit"] == inst.quick_command("/bin/bash", new.quick_client, "UserPromptSubmit")
    assert dict(ours)["SessionStart"] == inst.quick_command("/bin/bash", new.quick_client, "SessionStart")
    assert dict(ours)["Stop"] == inst.handler_for(old, "Stop")["command"]
    mine = {"type": "command", "command": "echo mine"}
    assert any(h == mine for g in upgraded["hooks"]["UserPromptSubmit"] for h in g["hooks"])  # the user's is kept
