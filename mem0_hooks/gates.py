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

    from mem0_hooks.project import Project


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


def capture_paused(place: Project | str) -> bool:
    """Whether capture is paused everywhere or in this project (``mem0-hooks pause``, which records the
    project's directory; its identity is accepted too)."""
    if not os.path.exists(pause_file()):
        return False
    pauses = read_pauses()
    root, identity = _root_and_id(place)
    return pauses["global"] or root in pauses["projects"] or identity in pauses["projects"]


def may_capture(config: dict[str, Any], place: Project | str) -> bool:
    """Capture needs consent, auto_store, no pause, and a project that did not opt out.

    ``place`` is where the hook runs (``project.locate``), or a project directory.
    """
    return capture_refusal(config, place) is None


# Why ``may_capture`` says no, in its order (``mem0-hooks import`` counts what it skips by reason).
NO_CONSENT = "no consent or memory.auto_store off"
EXCLUDED = "excluded project"
PAUSED = "capture paused"


def capture_refusal(config: dict[str, Any], place: Project | str) -> str | None:
    """None when ``may_capture`` allows capture in ``place``, else the reason it does not."""
    if not config_mod.capture_allowed(config):
        return NO_CONSENT
    if is_excluded(_root_and_id(place)[0], config["privacy"]["exclude_projects"]):
        return EXCLUDED
    if capture_paused(place):
        return PAUSED
    return None


def may_recall(config: dict[str, Any], place: Project | str) -> bool:
    """Recall keeps working while capture is paused; an opted-out project gets nothing."""
    return not is_excluded(_root_and_id(place)[0], config["privacy"]["exclude_projects"])


def _root_and_id(place: Project | str) -> tuple[str, str]:
    """(directory, identity): opt-outs are about the directory on this machine. A bare string is a
    directory (what ``project_of`` returned before identities came from remotes)."""
    if isinstance(place, str):
        return place, place
    return place.root, place.id
