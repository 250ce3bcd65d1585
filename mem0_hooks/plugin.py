"""The Claude Code plugin route: its first hooks, its one-time setup, and what it moves from older versions.

The plugin (``hooks/hooks.json``) runs each hook as ``sh hooks/plugin-hook.sh <file>``, which starts the
data dir's virtualenv's interpreter when there is one and ``python3`` otherwise. The data dir is the
install.sh route's (``paths.home()``: ``~/.local/share/mem0-hooks``), so both routes share the memories,
the config, the venv and the ``mem0-hooks`` command, and ``claude plugin uninstall`` (which deletes
``${CLAUDE_PLUGIN_DATA}``) deletes no memory.

Until the venv holds this version's dependencies (its ready marker), every hook calls
:func:`plugin_first_run` and then does its work anyway: capture needs only the standard library (the
queue, the transcript reader, the redaction), and so does recall from the local store; a hook that needs
a dependency (a remote store, a config.yaml to parse) fails open as always. The first run records
consent (installing the plugin is the opt-in) and starts :func:`plugin_setup` detached, which

1. makes ``<data>/venv`` unless it exists and works, and pip-installs the dependencies and this package
   (the ``mem0-hooks`` command) unless they are there already at this version;
2. links ``~/.local/bin/mem0-hooks`` to the venv's command, unless something else is there;
3. moves what earlier versions kept in ``${CLAUDE_PLUGIN_DATA}`` (:func:`migrate_plugin_data`);
4. writes the ready marker, and starts the flusher for what the first hooks captured meanwhile.

This module is stdlib only: it runs under whatever ``python3`` Claude Code finds.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any

from mem0_hooks.install import InstallError, atomic_write, bin_link, install_weights, prepare_embeddings

PLUGIN_DEPENDENCY_MODULES = ("httpx", "pydantic", "pydantic_core", "yaml", "filelock", "mcp")
PLUGIN_RETRY_AFTER = 3600.0  # a failed setup is retried after this long (or on a new version)
PLUGIN_CONSENT = "installing the mem0-hooks Claude Code plugin"
# What earlier versions kept in ${CLAUDE_PLUGIN_DATA} besides the store and the queue, moved when the
# data dir has none of its own.
_OLD_FILES = ("config.yaml", "api_key", "paused.json", "consent.json")
MOVED_NOTE = "MOVED-TO-DATA-DIR.txt"


# -- where things are --------------------------------------------------------------------------------
def plugin_venv(data: str) -> str:
    return os.path.join(data, "venv")


def plugin_ready_marker(data: str, version: str) -> str:
    """Present once ``<data>/venv`` holds the dependencies of ``version`` (checked by every plugin hook)."""
    return os.path.join(plugin_venv(data), f".mem0-hooks-ready-{version}")


def _status_file(data: str) -> str:
    return os.path.join(data, "state", "plugin-setup.json")


def plugin_status(data: str) -> dict[str, Any]:
    """The last setup's outcome: ``{"state": "running"|"ready"|"failed", "at", "version", "error"?}``."""
    try:
        with open(_status_file(data), encoding="utf-8") as fh:
            status = json.load(fh)
        return status if isinstance(status, dict) else {}
    except (OSError, ValueError):
        return {}


def _set_status(data: str, **status: Any) -> None:
    path = _status_file(data)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    atomic_write(path, json.dumps(dict(status, at=time.time())) + "\n", 0o600)


def plugin_requirements(root: str) -> list[str]:
    """The ``[project] dependencies`` of the plugin's pyproject.toml (tomllib when there is one)."""
    path = os.path.join(root, "pyproject.toml")
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the list is simple enough to read directly
        import re

        text = raw.decode("utf-8")
        block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
        if not block:
            raise InstallError(f"{path}: no dependencies list") from None
        return re.findall(r"[\"']([^\"']+)[\"']", block.group(1))
    deps = tomllib.loads(raw.decode("utf-8")).get("project", {}).get("dependencies", [])
    return [str(d) for d in deps]


# -- the first hooks ---------------------------------------------------------------------------------
def record_plugin_consent() -> bool:
    """Record consent in consent.json unless a decision is recorded already: installing the plugin is the
    opt-in. No config.yaml is written (the defaults apply, and need no dependency to read). True when
    this call recorded it."""
    from mem0_hooks import config, paths

    if os.path.exists(paths.consent_file()):
        return False  # given or withdrawn before: that decision stands
    config.record_consent(True, source=PLUGIN_CONSENT)
    return True


def plugin_first_run(root: str, data: str, version: str) -> bool:
    """Called by a plugin hook while ``<data>/venv`` is not ready for ``version``; the hook runs anyway.

    Records consent (first run), lets the recall limits an earlier version wrote follow the defaults,
    and starts :func:`plugin_setup` detached unless one runs or one failed less than an hour ago for
    this version. Never blocks. Returns True when the setup failed (SessionStart then says so).
    """
    try:
        record_plugin_consent()
    except OSError as exc:
        _log(f"plugin: could not record consent: {exc}")
    try:
        from mem0_hooks import paths
        from mem0_hooks.config import refresh_generated_defaults

        if refresh_generated_defaults(paths.config_file()):
            _log("plugin: the recall limits an earlier version wrote in config.yaml now follow the defaults")
    except OSError as exc:
        _log(f"plugin: could not update the recall limits in config.yaml: {exc}")
    status = plugin_status(data)
    failed = status.get("state") == "failed" and status.get("version") == version
    if failed and time.time() - float(status.get("at") or 0) < PLUGIN_RETRY_AFTER:
        return True
    try:
        start_plugin_setup(root, data)
    except OSError as exc:
        _log(f"plugin: could not start the setup: {exc}")
    return False


def plugin_notice(data: str) -> str:
    """What SessionStart tells the user when the setup failed."""
    status = plugin_status(data)
    return (
        f"mem0-hooks could not install its Python dependencies ({status.get('error', 'unknown error')}). "
        "Conversations are still captured, but they wait in the queue until it works; it retries within the "
        f"hour. Details in {os.path.join(data, 'mem0-hooks.log')}."
    )


def start_plugin_setup(root: str, data: str) -> bool:
    """Start :func:`plugin_setup` detached unless one runs; True when one is running now.

    The lock is taken here and handed to the child (an inherited descriptor keeps a ``flock``), so
    whoever waits on ``plugin-setup.lock`` waits for the whole job.
    """
    import fcntl

    os.makedirs(data, mode=0o700, exist_ok=True)
    fd = os.open(setup_lock(data), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return True  # another hook started it already
    try:
        os.set_inheritable(fd, True)
        code = (
            f"import sys; sys.path.insert(0, {root!r}); "
            "from mem0_hooks.plugin import plugin_setup_main; raise SystemExit(plugin_setup_main())"
        )
        os.posix_spawn(
            sys.executable,
            [sys.executable, "-c", code, root, data, str(fd)],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
            setsid=True,
        )
        return True
    finally:
        os.close(fd)


def setup_lock(data: str) -> str:
    return os.path.join(data, "plugin-setup.lock")


# -- the one-time setup ------------------------------------------------------------------------------
def plugin_setup(root: str, data: str, *, python: str | None = None) -> None:
    """Make ``<data>/venv`` ready for this version, link the command, move old data, flush (module docstring)."""
    from mem0_hooks import __version__

    venv = plugin_venv(data)
    vpython = os.path.join(venv, "bin", "python")
    _set_status(data, state="running", version=__version__)
    try:
        if os.path.exists(vpython):
            probe = subprocess.run([vpython, "-c", "pass"], capture_output=True, timeout=60, check=False)
            if probe.returncode != 0:
                shutil.rmtree(venv)  # its interpreter is gone (the system python was upgraded)
        if not os.path.exists(vpython):
            _run([python or sys.executable, "-m", "venv", venv], timeout=300)
        if _installed_version(vpython, data) != __version__:
            _pip_install(vpython, root)
        if _installed_version(vpython, data) != __version__:
            raise InstallError(f"{venv} still lacks mem0-hooks {__version__} after pip install")
        try:
            install_weights(vpython)
            prepare_embeddings(vpython, data)
        except InstallError as exc:  # recall still works, by words only; doctor says how to fix it
            _log(f"plugin: the embedding model could not be set up, recall is by words only: {exc}")
        for name in os.listdir(venv):
            if name.startswith(".mem0-hooks-ready-"):
                os.unlink(os.path.join(venv, name))
        with open(plugin_ready_marker(data, __version__), "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"version": __version__, "python": sys.version.split()[0]}) + "\n")
    except Exception as exc:  # noqa: BLE001 - recorded for the next SessionStart and doctor
        _set_status(data, state="failed", version=__version__, error=str(exc)[:300])
        _log(f"plugin: setting up {venv} failed: {exc}")
        raise
    _link_command(venv)
    old = os.environ.get("CLAUDE_PLUGIN_DATA")
    if old:
        try:
            moved = migrate_plugin_data(old, data)
            if moved:
                _log(f"plugin: moved {', '.join(moved)} from {old} to {data}")
        except Exception as exc:  # noqa: BLE001 - the old data stays where it was; tried again next version
            _log(f"plugin: could not move the data in {old} to {data}: {exc}")
    _set_status(data, state="ready", version=__version__)
    _log(f"plugin: {venv} is ready")
    _start_flusher(vpython, root)


def _installed_version(vpython: str, cwd: str) -> str | None:
    """The mem0-hooks version the venv's interpreter imports when it also has every dependency, else None.

    Run from ``cwd`` (the data dir), so the plugin's own copy of the package is not what it finds."""
    code = "import " + ", ".join(PLUGIN_DEPENDENCY_MODULES) + ", mem0_hooks; print(mem0_hooks.__version__)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.run([vpython, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _pip_install(vpython: str, root: str) -> None:
    """pip-install the dependencies and the package from a copy of the plugin (the plugin's own directory is
    Claude Code's: no build/ or egg-info is written there)."""
    build = tempfile.mkdtemp(prefix="mem0-hooks-build.")
    try:
        shutil.copy2(os.path.join(root, "pyproject.toml"), build)
        shutil.copytree(
            os.path.join(root, "mem0_hooks"),
            os.path.join(build, "mem0_hooks"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for extra in ("README.md", "LICENSE", "LICENSE.txt"):
            if os.path.isfile(os.path.join(root, extra)):
                shutil.copy2(os.path.join(root, extra), build)
        pip = [vpython, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"]
        _run([*pip, *plugin_requirements(root), build], timeout=1800)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _link_command(venv: str) -> None:
    """``~/.local/bin/mem0-hooks`` -> the venv's command, unless a file that is not ours is there."""
    from mem0_hooks.install import _link_is_ours

    link = bin_link()
    target = os.path.join(venv, "bin", "mem0-hooks")
    if not os.path.exists(target) or (os.path.lexists(link) and not _link_is_ours(link)):
        return
    try:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        tmp = f"{link}.{os.getpid()}.tmp"
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        _log(f"plugin: could not link {link}: {exc}")


def _start_flusher(vpython: str, root: str) -> None:
    """Deliver what the first hooks queued before the dependencies were there."""
    from mem0_hooks import queue

    if not queue.depth():
        return
    code = f"import sys; sys.path.insert(0, {root!r}); from mem0_hooks.flush import main; main()"
    try:
        os.posix_spawn(
            vpython,
            [vpython, "-c", code],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
            setsid=True,
        )
    except OSError as exc:
        _log(f"plugin: could not start the flusher: {exc}")


def plugin_setup_main(argv: list[str] | None = None) -> int:
    """Entry point of the detached setup: ``<root> <data> <lock fd>``."""
    args = sys.argv[1:] if argv is None else argv
    root, data = args[0], args[1]
    lock_fd = int(args[2]) if len(args) > 2 else None
    os.umask(0o077)
    try:
        plugin_setup(root, data)
        return 0
    except Exception:  # noqa: BLE001 - already recorded
        return 1
    finally:
        if lock_fd is not None:
            try:
                os.close(lock_fd)
            except OSError:
                pass


# -- what earlier versions kept in ${CLAUDE_PLUGIN_DATA} ------------------------------------------
def migrate_plugin_data(old: str, data: str) -> list[str]:
    """Move the memories, queue and settings an earlier version of the plugin kept in ``old``
    (``${CLAUDE_PLUGIN_DATA}``) into the data dir, so that uninstalling the plugin cannot delete them.

    The store is copied whole when the data dir has none, else its memories are added to the data dir's
    (an id already there is not added twice). Queued items move as they are; config.yaml, the API key,
    the pause switches and consent move when the data dir has none of its own. What moved is deleted
    from ``old`` (with the old venv), and a note there says where it went. Returns what moved.
    """
    if not os.path.isdir(old) or os.path.realpath(old) == os.path.realpath(data):
        return []
    moved: list[str] = []
    os.makedirs(data, mode=0o700, exist_ok=True)
    old_db = os.path.join(old, "memories.sqlite3")
    if os.path.exists(old_db):
        count = _move_store(old_db, os.path.join(data, "memories.sqlite3"))
        moved.append(f"{count} memories")
    items = 0
    for kind in ("pending", "dead"):
        source = os.path.join(old, "queue", kind)
        if not os.path.isdir(source):
            continue
        target = os.path.join(data, "queue", kind)
        os.makedirs(target, mode=0o700, exist_ok=True)
        for name in os.listdir(source):
            if name.endswith(".json") and not os.path.exists(os.path.join(target, name)):
                _move_file(os.path.join(source, name), os.path.join(target, name))
                items += 1
    if items:
        moved.append(f"{items} queued item(s)")
    for name in _OLD_FILES:
        source = os.path.join(old, name)
        if os.path.isfile(source) and not os.path.exists(os.path.join(data, name)):
            _move_file(source, os.path.join(data, name))
            moved.append(name)
    sessions = os.path.join(old, "sessions")
    if os.path.isdir(sessions):
        os.makedirs(os.path.join(data, "sessions"), mode=0o700, exist_ok=True)
        for name in os.listdir(sessions):
            if not os.path.exists(os.path.join(data, "sessions", name)):
                _move_file(os.path.join(sessions, name), os.path.join(data, "sessions", name))
    for name in ("memories.sqlite3", "memories.sqlite3-wal", "memories.sqlite3-shm", *_OLD_FILES):
        try:
            os.unlink(os.path.join(old, name))
        except OSError:
            pass
    for name in ("queue", "sessions", "venv", "state", "run"):
        shutil.rmtree(os.path.join(old, name), ignore_errors=True)
    with open(os.path.join(old, MOVED_NOTE), "w", encoding="utf-8") as fh:
        fh.write(
            f"mem0-hooks now keeps its memories in {data}, where they outlive the plugin; what was here went there.\n"
        )
    return moved


def _move_store(old_db: str, new_db: str) -> int:
    """The memories of ``old_db`` into ``new_db``: a copy of the file when there is none yet, else added
    through ``LocalStore.add``; returns how many memories ``old_db`` held. Raises when any did not arrive."""
    source = sqlite3.connect(old_db, timeout=30)
    try:
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file before copying it
        rows = source.execute(
            "SELECT id, text, role, created_at, session_id, project, scope, seq, metadata FROM memories ORDER BY rowid"
        ).fetchall()
    finally:
        source.close()
    tmp = f"{new_db}.{os.getpid()}.migrating"
    shutil.copyfile(old_db, tmp)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, new_db)  # only if the data dir has no store yet (a hook may have made one meanwhile)
        return len(rows)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    from mem0_hooks.backends.base import MemoryItem
    from mem0_hooks.backends.local import LocalStore

    store = LocalStore(new_db, timeout=30)
    try:
        for start in range(0, len(rows), 500):
            items = []
            for row in rows[start : start + 500]:
                try:
                    metadata = json.loads(row[8] or "{}")
                except ValueError:
                    metadata = {}
                memory_id, text, role, created_at, session_id, project, scope, seq = row[:8]
                items.append(
                    MemoryItem(
                        memory_id,
                        text,
                        role,
                        created_at,
                        session_id=session_id,
                        project=project,
                        scope=scope,
                        seq=seq,
                        metadata=metadata if isinstance(metadata, dict) else {},
                    )
                )
            store.add(items)
        missing = (
            len(rows)
            - store.db.execute(
                "SELECT count(*) FROM memories WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps([row[0] for row in rows]),),
            ).fetchone()[0]
        )
    finally:
        store.close()
    if missing:
        raise InstallError(f"{missing} memories of {old_db} did not reach {new_db}; {old_db} was kept")
    return len(rows)


def _move_file(source: str, target: str) -> None:
    try:
        os.rename(source, target)  # the same file system: atomic
    except OSError:
        shutil.copy2(source, target)
        os.unlink(source)


def _run(argv: list[str], timeout: float) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise InstallError(f"{os.path.basename(argv[0])} {' '.join(argv[1:3])} failed: {' | '.join(tail)}")


def _log(message: str) -> None:
    try:
        from mem0_hooks.log import log

        log(message, level="WARNING" if "fail" in message or "could not" in message else "INFO")
    except Exception:  # noqa: BLE001
        pass
