"""Makes ``mem0_hooks`` and its dependencies importable for the hook executables beside this file.

Three ways these files run:

* **Installed** (``./install.sh``): copied to ``<data>/hooks/`` and run as ``<data>/venv/bin/python -S``.
  ``-S`` skips site processing for a faster start, so the venv's site-packages is added here. The data
  dir is where this copy lives, so ``MEM0_HOOKS_HOME`` is set to it: the hooks use the install they
  belong to whatever the environment of Claude Code says.
* **Plugin** (``hooks/hooks.json``): ``hooks/plugin-hook.sh`` runs them from ``${CLAUDE_PLUGIN_ROOT}``
  with the data dir's venv (``<data>/venv/bin/python -S``, the same data dir and venv as the install.sh
  route) once it exists, else with ``python3``. Either way the hook runs: capture needs only the
  standard library. Until the venv holds this version's dependencies, ``mem0_hooks.plugin.plugin_first_run``
  records consent and starts the one-time setup in the background, which flushes what was captured
  meanwhile once it is done.
* **Checkout** (tests, development): ``mem0_hooks`` next to ``hooks/``; only the path is set.

Nothing here may fail loudly: a hook that cannot run exits 0 with no output.

This runs first on every prompt, so it uses ``posix`` (built in) rather than ``os``, which costs a
millisecond to import under ``-S``: about a tenth of a Python start. A hook served by the warm process
never imports ``os`` at all (``mem0_hooks.relay``); only the plugin's first hooks, before its setup is
done, import more.
"""

import posix
import sys

S_IFMT, S_IFDIR, S_IFREG = 0o170000, 0o040000, 0o100000


def _abspath(path):
    if path.startswith("/") and not ("//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/.."))):
        return path  # already absolute and normal: the usual case, no ``os.path`` needed
    import os

    return os.path.abspath(path)


def _parent(path):
    return path.rpartition("/")[0] or "/"


def _is(path, kind):
    try:
        return posix.stat(path).st_mode & S_IFMT == kind
    except (OSError, ValueError):
        return False


def _getenv(name):
    os = sys.modules.get("os")
    if os is not None:  # run without -S: site imported it, and os.environ is the one kept up to date
        return os.environ.get(name)
    value = posix.environ.get(name.encode())
    return None if value is None else value.decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _setenv(name, value):
    """Set a variable for this process and its children, in whichever of ``os.environ`` or ``posix.environ``
    (what ``os.environ`` is built from when ``os`` is first imported) is current."""
    os = sys.modules.get("os")
    if os is not None:
        os.environ[name] = value
        return
    raw = value.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
    posix.environ[name.encode()] = raw
    posix.putenv(name, value)


_root = _parent(_parent(_abspath(__file__)))


def _add_own_venv():
    # With -S the interpreter's own venv site-packages is not on sys.path (and sys.prefix is the base
    # Python, not the venv, on every version); the venv is the directory above bin/python.
    venv = _parent(_parent(sys.executable))
    if _is(venv + "/pyvenv.cfg", S_IFREG):
        sys.path.append("{}/lib/python{}.{}/site-packages".format(venv, *sys.version_info[:2]))
    return venv


def _exit_quietly(notice=None):
    if sys.argv[0].rpartition("/")[2] == "mcp_server.py":
        # The MCP server, not a hook: its stdin is the protocol and stays open, so do not read it; say
        # why on stderr (Claude Code's MCP log) and stop, so the server shows as failed, not hung.
        sys.stderr.write("mem0-hooks: the memory tools start once the plugin's Python environment is ready\n")
        posix._exit(1)
    try:
        sys.stdin.buffer.read()  # Claude Code writes the event; take it before leaving
    except Exception:  # noqa: BLE001
        pass
    if notice:
        import json

        sys.stdout.write(json.dumps({"systemMessage": notice}))
        sys.stdout.flush()
    posix._exit(0)


# True while this hook runs before the plugin's setup is done (``relay.start_warm`` then starts no warm
# process: the next hooks run with another interpreter, which would need a warm process of its own).
setting_up = False


def _plugin():
    """The plugin route: run the hook here, whatever is installed yet (see the module docstring)."""
    global setting_up
    if sys.flags.no_site:
        _add_own_venv()
    from mem0_hooks import __version__
    from mem0_hooks.relay import data_home

    data = data_home()
    if _is(data + "/venv/.mem0-hooks-ready-" + __version__, S_IFREG):
        return  # set up: the usual case, a stat and nothing more
    setting_up = True
    from mem0_hooks.plugin import plugin_first_run, plugin_notice

    failed = plugin_first_run(_root, data, __version__)
    if failed and sys.argv[0].rpartition("/")[2] == "session_start.py":
        _exit_quietly(plugin_notice(data))


if sys.version_info < (3, 10):  # noqa: UP036 - any python3 on PATH may run this file
    _old = sys.argv[0].rpartition("/")[2] == "session_start.py" and _getenv("CLAUDE_PLUGIN_ROOT")
    _exit_quietly(
        "mem0-hooks needs Python 3.10 or newer, but python3 on PATH is {}.{}: memory is off.".format(
            *sys.version_info[:2]
        )
        if _old
        else None
    )
if _is(_root + "/mem0_hooks", S_IFDIR):
    sys.path.insert(0, _root)
    if _getenv("CLAUDE_PLUGIN_ROOT"):
        try:
            _plugin()
        except Exception:  # noqa: BLE001 - never fail the user's session over the setup: run the hook
            pass
    elif sys.flags.no_site:
        _add_own_venv()  # a checkout run with -S (the benchmarks do): dependencies still come from the venv
else:
    _setenv("MEM0_HOOKS_HOME", _root)
    if sys.flags.no_site:
        _add_own_venv()
