"""``pause`` / ``resume``: switch capture off and on, everywhere or for one project; recall keeps working."""

from __future__ import annotations

import json
import os

from mem0_hooks import gates, paths
from mem0_hooks.cli._common import current_project


def _write(pauses: dict) -> None:
    path = gates.pause_file()
    paths.ensure_private_dir(os.path.dirname(path))
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        json.dump(pauses, fh)
    os.replace(tmp, path)


def pause(*, project: str | None, this_project: bool) -> int:
    pauses = gates.read_pauses()
    if project or this_project:
        where = current_project(project)
        if where not in pauses["projects"]:
            pauses["projects"].append(where)
        print(f"capture paused in {where}; recall still works. `mem0-hooks resume --project` to undo")
    else:
        pauses["global"] = True
        print("capture paused everywhere; recall still works. `mem0-hooks resume` to undo")
    _write(pauses)
    return 0


def resume(*, project: str | None, this_project: bool) -> int:
    pauses = gates.read_pauses()
    if project or this_project:
        where = current_project(project)
        pauses["projects"] = [p for p in pauses["projects"] if p != where]
        print(f"capture resumed in {where}" + ("" if not pauses["global"] else " (still paused everywhere)"))
    else:
        pauses["global"] = False
        print("capture resumed" + (f" (still paused in {len(pauses['projects'])} project(s))" if pauses["projects"] else ""))
    _write(pauses)
    return 0
