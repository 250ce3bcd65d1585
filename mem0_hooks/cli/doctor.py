"""``doctor``: check config, store, queue and Claude Code wiring, and say what to fix."""

from __future__ import annotations

import json
import os
import shlex
import stat
from collections.abc import Callable

from mem0_hooks import paths, queue
from mem0_hooks.errors import Mem0HooksError

HOOK_FILES = {
    "SessionStart": "session_start.py",
    "UserPromptSubmit": "user_prompt_submit.py",
    "Stop": "stop.py",
}


def _check_config() -> tuple[bool, str]:
    from mem0_hooks import config

    config.validate()
    absent = "" if os.path.exists(paths.config_file()) else " (absent: defaults)"
    return True, f"config {paths.config_file()} is valid{absent}"


def _check_home() -> tuple[bool, str]:
    home = paths.home()
    if not os.path.isdir(home):
        return False, f"data dir {home} does not exist: run ./install.sh, or any hook creates it"
    mode = stat.S_IMODE(os.stat(home).st_mode)
    if mode & 0o077:
        return False, f"data dir {home} is readable by others (mode {mode:o}): chmod 700 {home}"
    if not os.access(home, os.W_OK):
        return False, f"data dir {home} is not writable: capture cannot queue anything"
    return True, f"data dir {home} is private and writable"


def _check_consent() -> tuple[bool, str]:
    from mem0_hooks import config

    cfg = config.load()
    if not config.capture_allowed(cfg):
        if not cfg["memory"]["auto_store"]:
            return False, "capture is off (memory.auto_store: false)"
        return False, "capture is off until you consent: mem0-hooks config set privacy.consent_given true"
    return True, "capture is on (consent given)"


def _check_store() -> tuple[bool, str]:
    from mem0_hooks import config
    from mem0_hooks.backends import open_backend

    return True, open_backend(config.load()).health()


def _check_queue() -> tuple[bool, str]:
    pending, dead = queue.depth(), queue.depth(queue.DEAD)
    if dead:
        reasons = {str(r.get("dead_reason", ""))[:120] for r in queue.dead_items()[:10]}
        why = "; ".join(sorted(reasons))
        return False, f"{dead} item(s) dead-lettered ({why}): fix the cause, then `mem0-hooks replay --dead`"
    if pending > 100:
        return False, f"{pending} items waiting: is the store reachable? `mem0-hooks replay` delivers them now"
    return True, f"queue: {pending} pending, 0 dead"


def _check_project() -> tuple[bool, str]:
    """What identifies the project of the current directory (informational: always ok)."""
    from mem0_hooks.project import locate
    from mem0_hooks.project_map import describe

    info = describe(locate(os.getcwd()))
    line = f"this project is {info['line']}"
    if info["old_identities"]:
        line += f"; also recalls memories stored under {', '.join(info['old_identities'])}"
    if info["moved"] is False:
        line += "; its local memories are still being moved to this identity"
    return True, line


def _check_wiring() -> tuple[bool, str]:
    """Our hooks in Claude Code's user settings (or this project's), or the plugin enabled: one route, not both."""
    from mem0_hooks import install

    path = install.settings_path()
    try:
        with open(path, encoding="utf-8") as fh:
            settings = json.load(fh)
    except FileNotFoundError:
        settings = {}
    except ValueError as exc:
        return False, f"{path} is not valid JSON ({exc}): Claude Code ignores it; fix it, then ./install.sh"
    if not isinstance(settings, dict):
        return False, f"{path} is not a JSON object: fix it, then ./install.sh"
    handlers = install.our_handlers(settings)
    project_file = install.settings_path(os.getcwd())
    if not handlers and os.path.exists(project_file):
        try:
            with open(project_file, encoding="utf-8") as fh:
                handlers = install.our_handlers(json.load(fh))
            path = project_file if handlers else path
        except (OSError, ValueError):
            pass
    plugin = [k for k, on in (settings.get("enabledPlugins") or {}).items() if on and k.startswith("mem0-hooks@")]
    if handlers and plugin:
        return False, (
            f"both the settings hooks ({path}) and the plugin ({plugin[0]}) are active: every turn is "
            "captured twice; remove one (./install.sh --uninstall, or disable the plugin)"
        )
    if plugin and not handlers:
        status = install.plugin_status(paths.home()) if os.environ.get("CLAUDE_PLUGIN_DATA") else {}
        if status.get("state") == "failed":
            return False, f"plugin {plugin[0]} enabled but its setup failed: {status.get('error', '')}"
        return True, f"plugin {plugin[0]} is enabled"
    wired = {event for event, _ in handlers}
    missing = [e for e in HOOK_FILES if e not in wired]
    if not handlers:
        return False, f"{path} has none of our hooks: run ./install.sh --yes to wire them"
    if missing:
        return False, f"{path} lacks our {', '.join(missing)} hook(s): run ./install.sh --yes"
    broken = []
    for event, handler in handlers:
        try:
            argv = shlex.split(str(handler.get("command", "")))
        except ValueError:
            broken.append(f"{event}: unparsable command")
            continue
        for part in argv:
            expanded = os.path.expandvars(part)
            if expanded.startswith("/") and not os.path.exists(expanded):
                broken.append(f"{event}: {expanded} does not exist")
    if broken:
        return False, f"{path}: " + "; ".join(broken) + ": run ./install.sh --yes again"
    return True, f"{path} wires {', '.join(sorted(wired))}"


def _check_log() -> tuple[bool, str]:
    try:
        with open(paths.log_file(), encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()[-200:]
    except FileNotFoundError:
        return True, "log is empty"
    errors = [line for line in lines if " ERROR " in line]
    if errors:
        return False, f"{len(errors)} recent error(s) in {paths.log_file()}; last: {errors[-1].strip()[:200]}"
    return True, f"no recent errors in {paths.log_file()}"


CHECKS: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
    ("config", _check_config),
    ("data dir", _check_home),
    ("consent", _check_consent),
    ("store", _check_store),
    ("queue", _check_queue),
    ("project", _check_project),
    ("claude code", _check_wiring),
    ("log", _check_log),
]


def doctor(*, as_json: bool = False) -> int:
    results = []
    for name, check in CHECKS:
        try:
            ok, message = check()
        except Mem0HooksError as exc:
            ok, message = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - doctor reports, it does not crash
            ok, message = False, f"{type(exc).__name__}: {exc}"
        results.append({"check": name, "ok": ok, "message": message})
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            mark = "ok  " if r["ok"] else "FAIL"
            print(f"[{mark}] {r['check']:12} {r['message']}")
        bad = sum(not r["ok"] for r in results)
        print("all good" if not bad else f"{bad} problem(s): see the FAIL lines for what to do")
    return 0 if all(r["ok"] for r in results) else 1
