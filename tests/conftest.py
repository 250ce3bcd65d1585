"""Every test runs with a private HOME and data dir: no test can touch the real ~/.claude or store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mem0_hooks import config as config_mod

_OUR_ENV_PREFIXES = ("MEM0_", "CLAUDE_PLUGIN_", "XDG_")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME and MEM0_HOOKS_HOME for each test; inherited MEM0_*/XDG_* variables removed."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(_OUR_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MEM0_HOOKS_HOME", str(home / "mem0-data"))
    return home


@pytest.fixture
def data_home(isolated_home: Path) -> Path:
    """The data dir with a config.yaml that has consent given (capture on), as ./install.sh --yes writes."""
    data = Path(os.environ["MEM0_HOOKS_HOME"])
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    (data / "config.yaml").write_text(config_mod.default_yaml(consent=True))
    return data
