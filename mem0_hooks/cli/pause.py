"""``pause`` / ``resume``: switch capture off and on, everywhere or for one project; recall keeps working."""

from __future__ import annotations

from mem0_hooks import gates, paths
from mem0_hooks.cli._common import current_root


def _write(pauses: dict) -> None:
    paths.write_private_json(gates.pause_file(), pauses)


def pause(*, project: str | None, this_project: bool) -> int:
    pauses = gates.read_pauses()
    if project or this_project:
        where = current_root(project)  # a pause is about this directory, as the opt-outs are
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
        where = current_root(project)
        pauses["projects"] = [p for p in pauses["projects"] if p != where]
        print(f"capture resumed in {where}" + ("" if not pauses["global"] else " (still paused everywhere)"))
    else:
        pauses["global"] = False
        still = f" (still paused in {len(pauses['projects'])} project(s))" if pauses["projects"] else ""
        print(f"capture resumed{still}")
    _write(pauses)
    return 0
