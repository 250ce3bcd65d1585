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
    assert cfg["memory"]["context_budget_chars"] == 4600
    assert cfg["memory"]["max_context_memories"] == 24 and cfg["memory"]["min_relevance"] == 0.215
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
    assert config.load()["memory"]["min_relevance"] == 0.215


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


# -- the original design's config.yaml ---------------------------------------------------------------
ORIGINAL = """
mem0:
  # MCP Server Configuration
  mcp:
    enabled: true
    base_url: "http://localhost:8765"
    client_name: "claude-code"

  # Memory Settings
  memory:
    auto_store: true          # Automatically store conversations
    search_on_query: true     # Search memory before responding
    max_context_memories: 3  # Maximum memories to include in context

  # Privacy Settings
  privacy:
    require_consent: true    # Ask user consent before storing
    auto_delete_after_days: 30

  # Performance
  performance:
    cache_embeddings: true
    batch_operations: true
    max_memory_size_mb: 100

# Claude Code Settings
claude_code:
  memory_integration: true
  fallback_mode: true  # Continue without memory if Mem0 unavailable
"""


def test_the_original_designs_file_works_as_written(isolated_home: Path) -> None:
    data = Path(paths.home())
    data.mkdir(mode=0o700)
    write(data, ORIGINAL)
    cfg = config.load()
    assert (cfg["backend"], cfg["mem0"]["base_url"], cfg["mem0"]["app"]) == (
        "openmemory",
        "http://localhost:8765",
        "claude-code",
    )
    assert cfg["mcp"]["enabled"] is True
    memory = cfg["memory"]
    assert (memory["auto_store"], memory["search_on_query"], memory["max_context_memories"]) == (True, True, 3)
    assert (memory["cache_embeddings"], memory["max_store_size_mb"]) == (True, 100)
    assert cfg["queue"]["batch_operations"] is True
    assert cfg["privacy"]["require_consent"] is True and cfg["privacy"]["auto_delete_after_days"] == 30
    assert cfg["claude_code"]["memory_integration"] is True and cfg["claude_code"]["fallback_mode"] == "local"
    assert config.capture_allowed(cfg) is False  # no consent recorded yet: require_consent holds


def test_consent_given_at_install_survives_a_config_written_by_hand(data_home: Path) -> None:
    config.record_consent(True, source="./install.sh --yes")
    write(data_home, ORIGINAL)
    assert config.capture_allowed(config.load()) is True


def test_a_config_that_sets_consent_decides_and_is_recorded(data_home: Path) -> None:
    config.record_consent(True, source="./install.sh --yes")
    write(data_home, "privacy:\n  consent_given: false\n")
    assert config.capture_allowed(config.load()) is False
    assert config.read_consent()["consent_given"] is False  # the latest decision
    write(data_home, ORIGINAL)  # a file that no longer says: the withdrawal stands
    assert config.capture_allowed(config.load()) is False


def test_withdrawing_consent_is_one_command(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mem0_hooks.cli.main import main

    write(data_home, ORIGINAL)
    config.record_consent(True, source="plugin")
    assert config.capture_allowed(config.load())
    assert main(["config", "set", "privacy.consent_given", "false"]) == 0
    assert "capture is off" in capsys.readouterr().out
    assert not config.capture_allowed(config.load())
    assert (data_home / "config.yaml").read_text() == ORIGINAL  # the user's file, comments and all, untouched
    assert main(["config", "set", "mem0.privacy.consent_given", "true"]) == 0
    assert config.capture_allowed(config.load())


def test_mixed_spellings_agreeing_are_fine_and_config_show_uses_ours(
    data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mem0_hooks.cli.main import main

    ours = "memory:\n  max_context_memories: 3\n  context_budget_chars: 3000\nbackend: openmemory\n"
    write(data_home, ORIGINAL + ours)
    cfg = config.load()
    assert (cfg["memory"]["max_context_memories"], cfg["memory"]["context_budget_chars"]) == (3, 3000)
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "max_store_size_mb: 100" in out and "fallback_mode: local" in out and "max_memory_size_mb" not in out
    assert main(["config", "get", "mem0.performance.max_memory_size_mb"]) == 0
    assert capsys.readouterr().out.strip() == "100"


def test_config_set_changes_a_key_where_the_file_spells_it(data_home: Path) -> None:
    from mem0_hooks.cli.main import main

    write(data_home, ORIGINAL)
    assert main(["config", "set", "memory.max_context_memories", "5"]) == 0
    import yaml

    written = yaml.safe_load((data_home / "config.yaml").read_text())
    assert written["mem0"]["memory"]["max_context_memories"] == 5 and "memory" not in written
    assert config.load()["memory"]["max_context_memories"] == 5
    assert main(["config", "set", "memory.min_relevance", "0.3"]) == 0  # a key the file lacks: our spelling
    assert yaml.safe_load((data_home / "config.yaml").read_text())["memory"] == {"min_relevance": 0.3}


def test_bad_input_is_one_line_per_key_naming_the_file_and_the_key(data_home: Path) -> None:
    write(
        data_home,
        """
backend: platform
memory:
  max_context_memories: 16
mem0:
  mcp:
    enabled: true
    base_url: http://localhost:8765
    clientname: foo
  memory:
    max_context_memories: 3
    auto_store: maybe
  privacy: [1]
  performance:
    max_memory_size_mb: lots
    turbo: true
claude_code:
  fallback_mode: sometimes
""",
    )
    with pytest.raises(ConfigError) as err:
        config.load()
    lines = str(err.value).splitlines()[1:]
    path = str(data_home / "config.yaml")
    assert all(line.strip().startswith(f"{path}: ") for line in lines)
    keys = [line.strip()[len(path) + 2 :].split(":")[0] for line in lines]
    assert sorted(keys) == sorted(
        [
            "mem0.memory.max_context_memories",  # 3 against memory.max_context_memories: 16
            "mem0.mcp.enabled",  # openmemory against backend: platform
            "mem0.mcp.clientname",
            "mem0.memory.auto_store",
            "mem0.privacy",
            "mem0.performance.max_memory_size_mb",
            "mem0.performance.turbo",
            "claude_code.fallback_mode",
        ]
    )
    text = str(err.value)
    assert "conflicts with memory.max_context_memories: 16" in text
    assert "expected enabled, base_url, client_name" in text
    assert "expected cache_embeddings, batch_operations, max_memory_size_mb" in text
    assert "valid boolean" in text and "valid integer" in text
    assert "true or false" in text  # fallback_mode takes the original design's booleans too


def test_fallback_mode_takes_booleans_from_the_file_and_the_environment(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(data_home, "claude_code:\n  fallback_mode: false\n")
    assert config.load()["claude_code"]["fallback_mode"] == "skip"
    monkeypatch.setenv("MEM0_HOOKS_CLAUDE_CODE_FALLBACK_MODE", "true")
    assert config.load()["claude_code"]["fallback_mode"] == "local"


def test_mcp_disabled_keeps_the_backend_and_switches_our_mcp_server_off(data_home: Path) -> None:
    write(data_home, "mem0:\n  mcp:\n    enabled: false\n")
    cfg = config.load()
    assert cfg["backend"] == "local" and cfg["mcp"]["enabled"] is False
    write(data_home, "backend: openmemory\nmem0:\n  mcp:\n    enabled: false\n")
    with pytest.raises(ConfigError, match="mem0.mcp.enabled: false means no OpenMemory server"):
        config.load()


# -- without the dependencies (the plugin's first hooks) ---------------------------------------------
def test_the_defaults_read_without_pydantic_equal_the_models() -> None:
    from mem0_hooks.config_model import Config

    assert config.stdlib_defaults() == Config().model_dump()


def test_without_dependencies_a_data_dir_without_config_gets_the_defaults_and_the_recorded_consent(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    config.record_consent(True, source="installing the plugin")
    monkeypatch.setitem(sys.modules, "pydantic", None)  # import pydantic now raises ImportError
    cfg = config.validate()
    assert cfg["backend"] == "local" and config.capture_allowed(cfg)
    write(Path(paths.home()), "backend: local\n")
    with pytest.raises(ConfigError, match="dependencies"):
        config.validate()
