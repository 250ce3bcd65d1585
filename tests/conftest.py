"""Every test runs with a private HOME and data dir: no test can touch the real ~/.claude or store."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mem0_hooks import config as config_mod

_OUR_ENV_PREFIXES = ("MEM0_", "CLAUDE_PLUGIN_", "XDG_")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME and MEM0_HOOKS_HOME for each test; inherited MEM0_*/XDG_* variables removed."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(_OUR_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(home / "mem0-data"))
    yield home
    stop_warm_processes(str(tmp_path_factory.getbasetemp()))


def stop_warm_processes(under: str) -> int:
    """SIGTERM every warm process (``mem0_hooks.warm``) whose data dir is under ``under``.

    Hooks run by a test start one in the background, and it would otherwise idle for half an hour;
    its command line names its data dir, so the ones a test run started are found whatever HOME they
    had. Returns how many were signalled.
    """
    import signal

    found = 0
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if b"mem0_hooks.warm import main" in cmdline and under.encode() in cmdline:
            try:
                os.kill(int(pid), signal.SIGTERM)
                found += 1
            except OSError:
                pass
    return found


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``report(line)``: print past pytest's capture, so a suite's figures show in any run."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def emit(line: str) -> None:
        out = sys.__stdout__ or sys.stdout
        if capture is None:
            out.write(line + "\n")
            return
        with capture.global_and_fixture_disabled():
            out.write(line + "\n")
            out.flush()

    return emit


@pytest.fixture
def data_home(isolated_home: Path) -> Path:
    """The data dir with a config.yaml that has consent given (capture on), as ./install.sh --yes writes."""
    data = Path(os.environ["MEM0_HOOKS_HOME"])
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    (data / "config.yaml").write_text(config_mod.default_yaml(consent=True))
    return data


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: ``proj`` with a ``.git`` (what makes it a project root). Modules that need
    another name (a space in it, a name the viewer shows) or a working directory define their own."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    return root
