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
    from pydantic import ValidationError

    from mem0_hooks.config_model import Config

    path = paths.config_file()
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        raise FatalError(config_mod._flatten(path, exc)) from None
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

        print(f"# {paths.config_file()} plus environment overrides")
        print(yaml.safe_dump(effective, sort_keys=False).rstrip())
    return 0


def get(key: str) -> int:
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
    data = config_mod.read_file(paths.config_file())
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise FatalError(f"{'.'.join(parts[:-1])} is not a section")
        target = nxt
    target[parts[-1]] = _parse_value(raw)
    write_config(data)
    print(f"{key} = {target[parts[-1]]!r}")
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
