"""config.yaml: validated with errors that name the key, env overrides, a cache for the hot path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mem0_hooks import config, paths
from mem0_hooks.errors import ConfigError


def write(data_home: Path, text: str) -> None:
    (data_home / "config.yaml").write_text(text)


def test_defaults_without_a_file(isolated_home: Path) -> None:
    cfg = config.load()
    assert cfg["backend"] == "local"
    assert cfg["memory"]["context_budget_chars"] == 6000
    assert cfg["memory"]["max_context_memories"] == 16 and cfg["memory"]["min_relevance"] == 0.2
    assert cfg["privacy"]["require_consent"] is True and cfg["privacy"]["consent_given"] is False
    assert config.capture_allowed(cfg) is False  # no consent, no capture
    assert cfg["user_id"]


def test_the_default_file_written_by_install_is_valid_and_gives_consent(data_home: Path) -> None:
    cfg = config.load()
    assert config.capture_allowed(cfg) is True


def test_unknown_key_is_rejected_with_its_name(data_home: Path) -> None:
    write(data_home, "memory:\n  max_context_memorys: 5\n")
    with pytest.raises(ConfigError) as err:
        config.load()
    assert "memory.max_context_memorys" in str(err.value)
    assert "config.yaml" in str(err.value)


def test_bad_value_names_key_and_bound(data_home: Path) -> None:
    write(data_home, "memory:\n  context_budget_chars: 50000\n")
    with pytest.raises(ConfigError, match=r"memory\.context_budget_chars.*9500"):
        config.load()


def test_original_design_keys_work_or_are_rejected(data_home: Path) -> None:
    write(data_home, "claude_code:\n  fallback_mode: local\nprivacy:\n  auto_delete_after_days: 30\n")
    cfg = config.load()
    assert cfg["claude_code"]["fallback_mode"] == "local"
    assert cfg["privacy"]["auto_delete_after_days"] == 30
    write(data_home, "claude_code:\n  fallback_mode: sometimes\n")
    with pytest.raises(ConfigError, match="fallback_mode"):
        config.load()


def test_invalid_regex_is_rejected(data_home: Path) -> None:
    write(data_home, "privacy:\n  redact_patterns: ['(unclosed']\n")
    with pytest.raises(ConfigError, match="redact_patterns"):
        config.load()


def test_not_yaml_and_not_a_mapping(data_home: Path) -> None:
    write(data_home, "backend: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load()
    write(data_home, "- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        config.load()


def test_environment_overrides_the_file(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEM0_HOOKS_MEMORY_CONTEXT_BUDGET_CHARS", "3000")
    monkeypatch.setenv("MEM0_HOOKS_BACKEND", "server")
    monkeypatch.setenv("MEM0_HOOKS_PRIVACY_EXCLUDE_PROJECTS", "/a/*, /b")
    cfg = config.load()
    assert cfg["memory"]["context_budget_chars"] == 3000
    assert cfg["backend"] == "server"
    assert cfg["privacy"]["exclude_projects"] == ["/a/*", "/b"]
    monkeypatch.setenv("MEM0_HOOKS_MEMORY_AUTO_STORE", "perhaps")
    with pytest.raises(ConfigError, match="MEM0_HOOKS_MEMORY_AUTO_STORE"):
        config.load()


def test_cache_is_used_until_the_file_changes(data_home: Path) -> None:
    write(data_home, "memory:\n  max_context_memories: 7\n")
    assert config.load()["memory"]["max_context_memories"] == 7
    cache = Path(paths.config_cache())
    assert cache.exists() and (cache.stat().st_mode & 0o777) == 0o600
    # A tampered cache with the right key is served: proof the hot path does not re-validate.
    payload = json.loads(cache.read_text())
    payload["config"]["memory"]["max_context_memories"] = 99
    cache.write_text(json.dumps(payload))
    assert config.load()["memory"]["max_context_memories"] == 99
    write(data_home, "memory:\n  max_context_memories: 8\n")
    os.utime(data_home / "config.yaml", ns=(1, 1))
    assert config.load()["memory"]["max_context_memories"] == 8


def test_a_cache_written_before_the_schema_changed_is_not_served(
    data_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An upgrade that adds a key (memory.min_relevance) keeps the version and config.yaml as they were:
    # the cache the old code wrote must not stand in for the new schema.
    write(data_home, "memory:\n  max_context_memories: 7\n")
    config.load()
    cache = Path(paths.config_cache())
    payload = json.loads(cache.read_text())
    del payload["config"]["memory"]["min_relevance"]  # what the code before that key wrote
    cache.write_text(json.dumps(payload))
    schema = tmp_path / "config_model.py"
    schema.write_text(Path(config._SCHEMA).read_text() + "\n# the upgraded schema\n")
    monkeypatch.setattr(config, "_SCHEMA", str(schema))
    assert config.load()["memory"]["min_relevance"] == 0.2


def test_api_key_comes_from_env_then_file(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load()
    assert config.api_key(cfg) is None
    Path(paths.api_key_file()).write_text("m0-from-file\n")
    assert config.api_key(cfg) == "m0-from-file"
    monkeypatch.setenv("MEM0_API_KEY", "m0-from-env")
    assert config.api_key(cfg) == "m0-from-env"


def test_mcp_enabled_is_a_validated_switch(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.load()["mcp"]["enabled"] is True
    write(data_home, "mcp:\n  enabled: sometimes\n")
    with pytest.raises(ConfigError) as err:
        config.load()
    assert "mcp.enabled" in str(err.value) and "boolean" in str(err.value)
    write(data_home, "mcp:\n  enabled: false\n")
    assert config.load()["mcp"]["enabled"] is False
    monkeypatch.setenv("MEM0_HOOKS_MCP_ENABLED", "true")
    assert config.load()["mcp"]["enabled"] is True
