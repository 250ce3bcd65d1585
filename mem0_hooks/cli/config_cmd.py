"""``config show|get|set|set-key``: read and change config.yaml without editing it by hand."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from mem0_hooks import config as config_mod
from mem0_hooks import paths
from mem0_hooks.cli._common import FatalError, print_json


def _parse_value(raw: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def write_config(data: dict[str, Any]) -> None:
    """Validate then write config.yaml atomically, mode 0600."""
    import yaml

    from mem0_hooks.errors import ConfigError

    path = paths.config_file()
    try:
        config_mod.check(path, data)
    except ConfigError as exc:
        raise FatalError(str(exc)) from None
    paths.ensure_private_dir(os.path.dirname(path))
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        fh.write("# mem0-hooks configuration (see docs/configuration.md). Written by `mem0-hooks config set`.\n")
        yaml.safe_dump(data, fh, sort_keys=False, default_flow_style=False)
    os.replace(tmp, path)


def show(*, as_json: bool) -> int:
    effective = dict(config_mod.load())
    mem0 = dict(effective.get("mem0") or {})
    if mem0.get("api_key"):
        mem0["api_key"] = "(set in config.yaml)"
    effective["mem0"] = mem0
    effective["api_key_present"] = config_mod.api_key(config_mod.load()) is not None
    if as_json:
        print_json(effective)
    else:
        import yaml

        print(f"# {paths.config_file()} plus environment overrides, every key in this project's spelling")
        print(f"# (the original design's spelling maps as docs/configuration.md says); {_consent_line(effective)}")
        print(yaml.safe_dump(effective, sort_keys=False).rstrip())
    return 0


def _consent_line(effective: dict[str, Any]) -> str:
    """Where privacy.consent_given comes from."""
    privacy = effective.get("privacy") or {}
    if not privacy.get("require_consent"):
        return "consent: not required (privacy.require_consent: false)"
    try:
        explicit = (config_mod.read_file(paths.config_file()).get("privacy") or {}).get("consent_given")
    except Exception:  # noqa: BLE001 - only a comment
        explicit = None
    if isinstance(explicit, bool) or os.environ.get("MEM0_HOOKS_PRIVACY_CONSENT_GIVEN"):
        return "consent: set in the file (or the environment)"
    recorded = config_mod.read_consent()
    if recorded is None:
        return "consent: not given yet (`mem0-hooks config set privacy.consent_given true`)"
    verb = "given" if recorded["consent_given"] else "withdrawn"
    return f"consent: {verb} {recorded.get('at', '')} by {recorded.get('source', '?')} ({paths.consent_file()})"


def get(key: str) -> int:
    from mem0_hooks.config_aliases import canonical

    key = "mcp.enabled" if key == "mem0.mcp.enabled" else canonical(key)
    value: Any = config_mod.load()
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise FatalError(f"no config key {key!r} (see `mem0-hooks config show`)")
        value = value[part]
    if key == "mem0.api_key":
        value = "(hidden)" if value else None
    print(value if not isinstance(value, (dict, list)) else value)
    return 0


def set_value(key: str, raw: str) -> int:
    if key in ("mem0.api_key", "api_key"):
        raise FatalError(
            "the API key is never taken on the command line: use `mem0-hooks config set-key` "
            "(reads MEM0_API_KEY or asks without echo)"
        )
    from mem0_hooks.config_aliases import spellings

    value = _parse_value(raw)
    data = config_mod.read_file(paths.config_file())
    if key in ("privacy.consent_given", "mem0.privacy.consent_given"):
        return _set_consent(data, value)
    # A key the file already has, in either spelling, is changed where it is; a new one goes where typed.
    names = [name for name in spellings(key) if _lookup(data, name) is not _MISSING] or [key]
    for name in names:
        _put(data, name, value)
    write_config(data)
    for name in names:
        print(f"{name} = {value!r}")
    return 0


_MISSING = object()


def _lookup(data: dict[str, Any], key: str) -> Any:
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        nxt = target.setdefault(part, {})
        if nxt is None:
            nxt = target[part] = {}
        if not isinstance(nxt, dict):
            raise FatalError(f"{'.'.join(parts[:-1])} is not a section")
        target = nxt
    target[parts[-1]] = value


def _set_consent(data: dict[str, Any], value: Any) -> int:
    """Consent is recorded in consent.json (config.yaml keeps what the user wrote); a config.yaml that sets
    it too is changed to agree, since a value there would decide."""
    if not isinstance(value, bool):
        raise FatalError(f"privacy.consent_given takes true or false, got {value!r}")
    for name in ("privacy.consent_given", "mem0.privacy.consent_given"):
        if _lookup(data, name) is not _MISSING:
            _put(data, name, value)
            write_config(data)
    config_mod.record_consent(value, source="mem0-hooks config set privacy.consent_given")
    state = "on: conversations are stored" if value else "off: nothing more is stored (recall keeps working)"
    print(f"privacy.consent_given = {value!r} (recorded in {paths.consent_file()}); capture is {state}")
    return 0


def set_key() -> int:
    """Store the Mem0 API key in a 0600 file: from MEM0_API_KEY, else asked without echo."""
    key = os.environ.get("MEM0_API_KEY", "").strip()
    if not key:
        if not sys.stdin.isatty():
            key = sys.stdin.readline().strip()
        else:
            key = getpass.getpass("Mem0 API key (not echoed): ").strip()
    if not key:
        raise FatalError("no key given: export MEM0_API_KEY=... or type it at the prompt")
    save_api_key(key)
    print(f"API key stored in {paths.api_key_file()} (mode 0600)")
    return 0


def save_api_key(key: str) -> None:
    path = paths.api_key_file()
    paths.ensure_private_dir(os.path.dirname(path))
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
