"""Which project a hook runs in: the git root above the cwd, else the cwd itself."""

from __future__ import annotations

import os


def project_of(cwd: str | None) -> str:
    """The absolute path that scopes memories for ``cwd``."""
    if not cwd or not isinstance(cwd, str):
        cwd = os.environ.get("CLAUDE_PROJECT_DIR") or os.getcwd()
    path = os.path.abspath(cwd)
    probe = path
    for _ in range(64):
        if os.path.exists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return path


IGNORE_FILE = ".mem0-hooks-ignore"


def is_excluded(project: str, globs: list[str]) -> bool:
    """True when the project opted out: an ignore file at its root, or a configured glob matches it."""
    if os.path.exists(os.path.join(project, IGNORE_FILE)):
        return True
    if not globs:
        return False
    import fnmatch

    for pattern in globs:
        expanded = os.path.expanduser(pattern).rstrip("/")
        if fnmatch.fnmatch(project, expanded) or fnmatch.fnmatch(project, expanded + "/*"):
            return True
    return False
