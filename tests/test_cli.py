"""The mem0-hooks command, called through main() as a user would, output checked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mem0_hooks.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    proj = tmp_path / "proj"
    (proj / ".git").mkdir(parents=True)
    monkeypatch.chdir(proj)
    return proj


def test_add_search_list_forget(data_home: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "add", "We use ruff with line length 120 in this repo")
    assert code == 0 and "remembered" in out
    run(capsys, "add", "I prefer tabs over spaces in Makefiles", "--user")
    code, out, _ = run(capsys, "search", "ruff line length")
    assert code == 0 and "ruff" in out
    code, out, _ = run(capsys, "list", "--json")
    listed = json.loads(out)
    assert {m["text"] for m in listed} == {"We use ruff with line length 120 in this repo"}
    assert set(listed[0]) >= {"id", "text", "role", "created_at", "session", "project"}
    assert listed[0]["project"] == str(project)
    code, out, _ = run(capsys, "list", "--all", "--json")
    assert len(json.loads(out)) == 2
    code, out, _ = run(capsys, "forget", listed[0]["id"][:12])
    assert code == 0 and "forgot" in out
    code, out, _ = run(capsys, "list", "--json")
    assert json.loads(out) == []
    code, _, err = run(capsys, "forget", "nosuchid")
    assert code == 1 and err.startswith("error:")


def test_forget_all_needs_yes_without_a_terminal(
    data_home: Path, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "add", "something worth forgetting later")
    with open(os.devnull) as devnull:
        monkeypatch.setattr("sys.stdin", devnull)
        code, _, err = run(capsys, "forget", "--all")
    assert code == 1 and "--yes" in err
    code, out, _ = run(capsys, "forget", "--all", "--yes")
    assert code == 0 and "forgot 1" in out


def test_status_json(data_home: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "add", "a note for the status count")
    code, out, _ = run(capsys, "status", "--json")
    info = json.loads(out)
    assert code == 0
    assert info["backend"] == "local" and info["memories"] == 1
    assert info["queue_pending"] == 0 and info["queue_dead"] == 0
    assert info["capture"] == "on"
    code, out, _ = run(capsys, "status")
    assert "memories      1" in out


def test_pause_and_resume(data_home: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mem0_hooks import config, gates

    cfg = config.load()
    assert gates.may_capture(cfg, str(project))
    run(capsys, "pause", "--project")
    assert not gates.may_capture(cfg, str(project))
    assert gates.may_capture(cfg, "/somewhere/else")
    assert gates.may_recall(cfg, str(project))
    run(capsys, "resume", "--project")
    assert gates.may_capture(cfg, str(project))
    run(capsys, "pause")
    assert not gates.may_capture(cfg, "/somewhere/else")
    code, out, _ = run(capsys, "status")
    assert "paused" in out
    run(capsys, "resume")
    assert gates.may_capture(cfg, "/somewhere/else")


def test_config_set_validates_and_never_takes_the_key(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "set", "memory.context_budget_chars", "3000")
    assert code == 0
    code, out, _ = run(capsys, "config", "get", "memory.context_budget_chars")
    assert out.strip() == "3000"
    code, _, err = run(capsys, "config", "set", "memory.context_budget_chars", "123456")
    assert code == 1 and "context_budget_chars" in err
    code, _, err = run(capsys, "config", "set", "memory.nonsense", "1")
    assert code == 1 and "unknown key" in err
    code, _, err = run(capsys, "config", "set", "mem0.api_key", "m0-secret")
    assert code == 1 and "never taken on the command line" in err
    assert "m0-secret" not in (data_home / "config.yaml").read_text()


def test_set_key_reads_the_environment_and_writes_0600(
    data_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEM0_API_KEY", "m0-test-key-value")
    code, out, _ = run(capsys, "config", "set-key")
    assert code == 0 and "m0-test-key-value" not in out
    key_file = data_home / "api_key"
    assert key_file.read_text().strip() == "m0-test-key-value"
    assert key_file.stat().st_mode & 0o777 == 0o600
    code, out, _ = run(capsys, "config", "show")
    assert "m0-test-key-value" not in out


def test_doctor_says_what_to_fix(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert "install.sh" in out  # no Claude Code settings yet: says how to wire them
    assert "[ok  ] config" in out and "[ok  ] store" in out


def test_replay_on_an_empty_queue(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "replay")
    assert code == 0 and "empty" in out


def test_doctor_reports_an_invalid_config_once_and_skips_what_needs_it(
    data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "mem0:\n  memory:\n    max_context_memorys: 3\n  performance:\n    turbo: on\n"
    (data_home / "config.yaml").write_text(bad)
    code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert out.count("max_context_memorys") == 1 and out.count("turbo") == 1
    assert "[FAIL] config" in out
    assert "[skip] consent" in out and "[skip] store" in out and "needs a valid config" in out
    code, out, _ = run(capsys, "doctor", "--json")
    checks = {c["check"]: c for c in json.loads(out)}
    assert checks["store"]["skipped"] and not checks["store"]["ok"]


def test_doctor_and_status_show_the_store_against_its_cap(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_home / "config.yaml").write_text("mem0:\n  performance:\n    max_memory_size_mb: 100\n")
    run(capsys, "add", "we deploy with make ship")
    _, out, _ = run(capsys, "doctor")
    assert "MB of its 100 MB cap" in out
    _, out, _ = run(capsys, "status")
    assert "store size" in out and "of its 100 MB cap" in out
