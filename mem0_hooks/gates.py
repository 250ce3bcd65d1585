"""Whether capture and recall may run here: consent, auto_store, pause switches, project opt-outs."""

from __future__ import annotations

import os

from mem0_hooks import config as config_mod
from mem0_hooks import fastjson as json
from mem0_hooks import paths
from mem0_hooks.project import is_excluded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def pause_file() -> str:
    return os.path.join(paths.home(), "paused.json")


def read_pauses() -> dict[str, Any]:
    """``{"global": bool, "projects": [paths]}`` written by ``mem0-hooks pause``."""
    try:
        with open(pause_file(), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {"global": False, "projects": []}
    if not isinstance(data, dict):
        return {"global": False, "projects": []}
    projects = data.get("projects")
    return {"global": bool(data.get("global")), "projects": projects if isinstance(projects, list) else []}


def capture_paused(project: str) -> bool:
    if not os.path.exists(pause_file()):
        return False
    pauses = read_pauses()
    return pauses["global"] or project in pauses["projects"]


def may_capture(config: dict[str, Any], project: str) -> bool:
    """Capture needs consent, auto_store, no pause, and a project that did not opt out."""
    return capture_refusal(config, project) is None


# Why ``may_capture`` says no, in its order (``mem0-hooks import`` counts what it skips by reason).
NO_CONSENT = "no consent or memory.auto_store off"
EXCLUDED = "excluded project"
PAUSED = "capture paused"


def capture_refusal(config: dict[str, Any], project: str) -> str | None:
    """None when ``may_capture`` allows capture in ``project``, else the reason it does not."""
    if not config_mod.capture_allowed(config):
        return NO_CONSENT
    if is_excluded(project, config["privacy"]["exclude_projects"]):
        return EXCLUDED
    if capture_paused(project):
        return PAUSED
    return None


def may_recall(config: dict[str, Any], project: str) -> bool:
    """Recall keeps working while capture is paused; an opted-out project gets nothing."""
    return not is_excluded(project, config["privacy"]["exclude_projects"])
