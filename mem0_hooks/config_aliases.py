"""The original design's spelling of config.yaml, translated to this project's before validation.

The design this project implements gave a config.yaml that nests the memory, privacy and performance
sections under ``mem0:``, has a ``mem0.mcp`` section, and writes booleans where this project has
words. It is accepted as written, alone or mixed with this project's keys:

=======================================  ===============================================================
original design                          this project
=======================================  ===============================================================
``mem0.mcp.enabled: true``               ``backend: openmemory`` and ``mcp.enabled: true``
``mem0.mcp.enabled: false``              ``mcp.enabled: false`` (the backend stays as written)
``mem0.mcp.base_url``                    ``mem0.base_url``
``mem0.mcp.client_name``                 ``mem0.app``
``mem0.memory.<key>``                    ``memory.<key>`` (every key of ``memory``)
``mem0.privacy.<key>``                   ``privacy.<key>`` (every key of ``privacy``)
``mem0.performance.cache_embeddings``    ``memory.cache_embeddings``
``mem0.performance.batch_operations``    ``queue.batch_operations``
``mem0.performance.max_memory_size_mb``  ``memory.max_store_size_mb``
``claude_code.fallback_mode: true``      ``claude_code.fallback_mode: local`` (``false``: ``skip``)
=======================================  ===============================================================

(``claude_code.memory_integration`` has the same name in both.) A key written in both spellings must
have one value; two values is an error naming both. Errors about a key name it as the file spells it.
"""

from __future__ import annotations

import copy
from typing import Any

# mem0.<section>.<key> -> (our section, our key); None for "every key of our section of that name".
_MOVED: dict[str, dict[str, tuple[str, str]] | None] = {
    "memory": None,
    "privacy": None,
    "performance": {
        "cache_embeddings": ("memory", "cache_embeddings"),
        "batch_operations": ("queue", "batch_operations"),
        "max_memory_size_mb": ("memory", "max_store_size_mb"),
    },
    "mcp": {
        "enabled": ("mcp", "enabled"),
        "base_url": ("mem0", "base_url"),
        "client_name": ("mem0", "app"),
    },
}
SECTIONS = tuple(_MOVED)


class Translation:
    """What ``translate`` made of a file: the data in our spelling, how the file spelled each key it
    moved (``spelled[("memory", "auto_store")] == "mem0.memory.auto_store"``), and its errors."""

    __slots__ = ("data", "spelled", "errors")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.spelled: dict[tuple[str, ...], str] = {}
        self.errors: list[str] = []

    def spelling(self, loc: tuple[str, ...]) -> str:
        """``loc`` (a key path in our spelling, maybe deeper than a key) as the file wrote it."""
        for size in range(len(loc), 0, -1):
            original = self.spelled.get(loc[:size])
            if original is not None:
                return ".".join([original, *loc[size:]])
        return ".".join(loc)


def translate(path: str, raw: dict[str, Any]) -> Translation:
    """``raw`` (a config.yaml mapping) in our spelling; never raises (see ``Translation.errors``)."""
    data = copy.deepcopy(raw)
    out = Translation(data)
    mem0 = data.get("mem0")
    if not isinstance(mem0, dict):
        return out
    for section in SECTIONS:
        if section not in mem0:
            continue
        values = mem0.pop(section)
        where = f"mem0.{section}"
        if values is None:
            continue  # an empty section, as YAML reads ``memory:`` with nothing under it
        if not isinstance(values, dict):
            out.errors.append(f"{path}: {where}: expected a mapping of keys, got {_describe(values)}")
            continue
        moves = _MOVED[section]
        for key, value in values.items():
            key = str(key)
            if moves is None:
                target = (section, key)
            elif key in moves:
                target = moves[key]
            else:
                expected = ", ".join(moves)
                design = f"in the original design's {where}"
                out.errors.append(f"{path}: {where}.{key}: unknown key {design} (expected {expected})")
                continue
            _place(path, out, target, value, f"{where}.{key}")
    if not mem0:
        del data["mem0"]
    _mcp_means_openmemory(path, out)
    return out


def _place(path: str, out: Translation, target: tuple[str, str], value: Any, spelled: str) -> None:
    section, key = target
    data = out.data
    current = data.get(section)
    if current is None:
        current = data[section] = {}
    if not isinstance(current, dict):
        return  # pydantic reports the section itself
    if key in current and not _same(current[key], value, key):
        ours = f"{section}.{key}"
        theirs = out.spelled.get(target, ours)
        out.errors.append(
            f"{path}: {spelled}: {_show(value)} conflicts with {theirs}: {_show(current[key])} "
            "(the same key written twice): keep one"
        )
        return
    current[key] = value
    out.spelled[target] = spelled


def _mcp_means_openmemory(path: str, out: Translation) -> None:
    """``mem0.mcp.enabled: true``: the store is the OpenMemory server at ``mem0.mcp.base_url``."""
    if out.spelled.get(("mcp", "enabled")) != "mem0.mcp.enabled":
        return
    enabled = out.data["mcp"]["enabled"]
    if not isinstance(enabled, bool):
        return  # pydantic names the key and the type expected
    backend = out.data.get("backend")
    if enabled and backend is None:
        out.data["backend"] = "openmemory"
        out.spelled[("backend",)] = "mem0.mcp.enabled"
    elif enabled and backend != "openmemory":
        out.errors.append(
            f"{path}: mem0.mcp.enabled: true means the OpenMemory server at mem0.mcp.base_url (backend: openmemory), "
            f"but backend is {_show(backend)}: keep one"
        )
    elif not enabled and backend == "openmemory":
        out.errors.append(
            f"{path}: mem0.mcp.enabled: false means no OpenMemory server, but backend is openmemory: keep one"
        )


def canonical(key: str) -> str:
    """A dotted key in our spelling (``mem0.memory.auto_store`` -> ``memory.auto_store``)."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "mem0" and parts[1] in _MOVED:
        moves = _MOVED[parts[1]]
        if moves is None:
            return f"{parts[1]}.{parts[2]}"
        if parts[2] in moves:
            return ".".join(moves[parts[2]])
    return key


def spellings(key: str) -> list[str]:
    """Every spelling of the dotted key ``key``, ours first."""
    ours = canonical(key)
    found = [ours]
    section, _, name = ours.partition(".")
    for original, moves in _MOVED.items():
        if moves is None:
            if original == section and name:
                found.append(f"mem0.{original}.{name}")
            continue
        for theirs, target in moves.items():
            if ".".join(target) == ours:
                found.append(f"mem0.{original}.{theirs}")
    return found


def _same(a: Any, b: Any, key: str) -> bool:
    if key in ("base_url",) and isinstance(a, str) and isinstance(b, str):
        return a.rstrip("/") == b.rstrip("/")
    return type(a) is type(b) and a == b


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value)


def _describe(value: Any) -> str:
    return {str: "text", int: "a number", float: "a number", bool: "true/false", list: "a list"}.get(
        type(value), type(value).__name__
    ) + f" ({_show(value)})"
