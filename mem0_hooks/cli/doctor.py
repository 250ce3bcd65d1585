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


# Checks that read the config: with an invalid config they are skipped (the config check says why).
NEEDS_CONFIG = ("consent", "store", "semantic", "memory tools")


def _check_config() -> tuple[bool, str]:
    from mem0_hooks import config

    effective = config.validate()
    absent = "" if os.path.exists(paths.config_file()) else " (absent: defaults)"
    message = f"config {paths.config_file()} is valid{absent}"
    if not effective["claude_code"]["memory_integration"]:
        return False, message + "; but claude_code.memory_integration is false: every hook is off"
    return True, message


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
        recorded = config.read_consent()
        if recorded is not None and not recorded["consent_given"]:
            return False, (
                f"capture is off: consent was withdrawn ({recorded.get('source', '?')}, {recorded.get('at', '?')}); "
                "to give it: mem0-hooks config set privacy.consent_given true"
            )
        return False, "capture is off until you consent: mem0-hooks config set privacy.consent_given true"
    if not cfg["privacy"]["require_consent"]:
        return True, "capture is on (privacy.require_consent: false)"
    recorded = config.read_consent()
    where = f" ({recorded.get('source', '?')}, {recorded.get('at', '?')})" if recorded else ""
    return True, f"capture is on (consent given{where})"


def _check_store() -> tuple[bool, str]:
    from mem0_hooks import config
    from mem0_hooks.backends import open_backend

    cfg = config.load()
    message = open_backend(cfg).health()
    size = store_size_line(cfg)
    return True, message + (f"; {size}" if size else "")


def store_size_line(cfg: dict[str, object]) -> str:
    """The local store's size against ``memory.max_store_size_mb`` ("" when there is no local store)."""
    from mem0_hooks import config as config_mod
    from mem0_hooks.backends.local import LocalStore

    memory = cfg["memory"]
    assert isinstance(memory, dict)
    if not config_mod.keeps_local_index(cfg):  # type: ignore[arg-type]
        return ""
    if not os.path.exists(paths.store_db()):
        return ""
    store = LocalStore()
    try:
        used = store.used_bytes() / 1e6
    finally:
        store.close()
    cap = memory["max_store_size_mb"]
    what = "local store" if cfg["backend"] == "local" else "local fallback copy"
    if cap is None:
        return f"{what} uses {used:.1f} MB (no cap: memory.max_store_size_mb)"
    return f"{what} uses {used:.1f} MB of its {cap} MB cap (oldest memories are forgotten past it)"


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
            f"both the settings hooks ({path}) and the plugin ({plugin[0]}) are active: every hook runs twice "
            "(each turn is stored once); remove one (./install.sh --uninstall, or claude plugin uninstall)"
        )
    if plugin and not handlers:
        from mem0_hooks import __version__
        from mem0_hooks.plugin import plugin_ready_marker, plugin_status

        status = plugin_status(paths.home())
        if status.get("state") == "failed":
            return False, (
                f"plugin {plugin[0]} enabled, but setting up {paths.home()}/venv failed: {status.get('error', '')}; "
                "captured turns wait in the queue. It retries within the hour (at the next hook)"
            )
        if not os.path.exists(plugin_ready_marker(paths.home(), __version__)):
            return True, f"plugin {plugin[0]} is enabled; its setup runs in the background (capture works meanwhile)"
        return True, f"plugin {plugin[0]} is enabled and set up ({paths.home()}/venv)"
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


MCP_CHECK_SECONDS = 15.0  # the SDK's import alone takes most of a second on a busy machine


def _check_semantic() -> tuple[bool, str]:
    """Recall by meaning: the model loads, and the store's vectors are this model's and (nearly) complete."""
    from mem0_hooks import config as config_mod
    from mem0_hooks import embedding, flush, recall
    from mem0_hooks.backends.local import LocalStore

    cfg = config_mod.load()
    if not recall.semantic_weight(cfg):
        return True, "recall by meaning is off (memory.semantic / semantic_weight / cache_embeddings): by words only"
    if not config_mod.keeps_local_index(cfg):
        return True, f"recall by meaning: done by the {cfg['backend']} store (mem0.local_index is off)"
    try:
        model = embedding.load()
    except embedding.EmbeddingUnavailable as exc:
        return False, str(exc)
    store = LocalStore()
    try:
        state, total, missing = store.vector_state(), store.count(), store.missing_vectors()
    finally:
        store.close()
    failing = flush.read_status().get("vectors_error")
    if failing:
        return False, f"{failing}. Recall is by words until this is fixed; then run `mem0-hooks reindex`"
    if state.get("model") and state["model"] != model.id:
        return False, (
            "the store's vectors were made by another version of the model: until they are made again recall is "
            "by words. The flusher does it in the background; `mem0-hooks reindex` does it now"
        )
    if missing:
        return True, (
            f"recall by meaning: {total - missing:,} of {total:,} memories embedded; the rest are recalled by words "
            "until the flusher embeds them (`mem0-hooks reindex` does it now)"
        )
    return True, f"recall by meaning: all {total:,} memories embedded ({model.id})"


def _check_mcp() -> tuple[bool, str]:
    """The memory tools' server starts and lists its five tools (bounded), and whether Claude Code has it."""
    from mem0_hooks import config, install

    if not config.load()["mcp"]["enabled"]:
        return True, "memory tools (MCP) are off (mcp.enabled: false)"
    try:
        tools = list_server_tools(MCP_CHECK_SECONDS)
    except TimeoutError:
        return False, f"the memory tools' server (mem0-hooks mcp) did not answer within {MCP_CHECK_SECONDS:.0f}s"
    from mem0_hooks.mcp_server import TOOL_NAMES

    missing = [t for t in TOOL_NAMES if t not in tools]
    if missing:
        return False, f"mem0-hooks mcp started but lacks the tool(s) {', '.join(missing)}: reinstall (./install.sh)"
    where = install.claude_json_path()
    try:
        with open(where, encoding="utf-8") as fh:
            registered = install.registered_mcp_server(json.load(fh)) is not None
    except (OSError, ValueError):
        registered = False
    plugin = bool(os.environ.get("CLAUDE_PLUGIN_ROOT"))
    if not registered and not plugin:
        return False, f"mem0-hooks mcp serves {len(tools)} tools but {where} does not register it: ./install.sh --yes"
    return True, f"mem0-hooks mcp serves {', '.join(tools)}" + (f" (registered in {where})" if registered else "")


def list_server_tools(timeout: float) -> list[str]:
    """Start ``mem0-hooks mcp`` as Claude Code does and list its tools with the SDK's client (TimeoutError past
    ``timeout``)."""
    import sys

    import anyio
    from mcp import Client, StdioServerParameters

    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mem0_hooks.cli.main", "mcp"],
        env={"MEM0_HOOKS_HOME": paths.home()},
        cwd=os.getcwd(),
    )

    async def run() -> list[str]:
        with anyio.fail_after(timeout):
            async with Client(server, mode="legacy") as client:
                return [tool.name for tool in (await client.list_tools()).tools]

    return anyio.run(run)


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
    ("semantic", _check_semantic),
    ("queue", _check_queue),
    ("project", _check_project),
    ("claude code", _check_wiring),
    ("memory tools", _check_mcp),
    ("log", _check_log),
]


def doctor(*, as_json: bool = False) -> int:
    results: list[dict[str, object]] = []
    config_ok = True
    for name, check in CHECKS:
        if name in NEEDS_CONFIG and not config_ok:
            results.append(
                {"check": name, "ok": False, "skipped": True, "message": "skipped: it needs a valid config (see above)"}
            )
            continue
        try:
            ok, message = check()
        except Mem0HooksError as exc:
            ok, message = False, str(exc)
            config_ok = config_ok and name != "config"
        except Exception as exc:  # noqa: BLE001 - doctor reports, it does not crash
            ok, message = False, f"{type(exc).__name__}: {exc}"
            config_ok = config_ok and name != "config"
        results.append({"check": name, "ok": ok, "message": message})
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            mark = "skip" if r.get("skipped") else "ok  " if r["ok"] else "FAIL"
            text = str(r["message"]).replace("\n", "\n" + " " * 20)
            print(f"[{mark}] {r['check']:12} {text}")
        bad = sum(not r["ok"] and not r.get("skipped") for r in results)
        print("all good" if not bad else f"{bad} problem(s): see the FAIL lines for what to do")
    return 0 if all(r["ok"] for r in results) else 1
