"""Where mem0-hooks keeps its files.

Everything lives under one directory: ``$MEM0_HOOKS_HOME`` when set, else ``$XDG_DATA_HOME/mem0-hooks``
(``~/.local/share/mem0-hooks``). The config file sits beside the data (``config.yaml``) so one variable
moves the whole install. The install.sh route and the Claude Code plugin share it: memories outlive the
plugin (Claude Code deletes ``${CLAUDE_PLUGIN_DATA}`` when the plugin is uninstalled), and the
``mem0-hooks`` command sees the same store whichever route captured it.
"""

import os


def home() -> str:
    """The directory holding the config, the store, the queue and the log."""
    explicit = os.environ.get("MEM0_HOOKS_HOME")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(xdg, "mem0-hooks")


def config_file() -> str:
    return os.path.join(home(), "config.yaml")


def config_cache() -> str:
    return os.path.join(home(), "config.cache.json")


def consent_file() -> str:
    """Where the consent decision is recorded (``config.record_consent``), outside config.yaml."""
    return os.path.join(home(), "consent.json")


def api_key_file() -> str:
    return os.path.join(home(), "api_key")


def log_file() -> str:
    return os.path.join(home(), "mem0-hooks.log")


def store_db() -> str:
    return os.path.join(home(), "memories.sqlite3")


def queue_dir() -> str:
    return os.path.join(home(), "queue")


def sessions_dir() -> str:
    return os.path.join(home(), "sessions")


def state_file(name: str) -> str:
    """A small JSON status file (last flush, breaker state, ...)."""
    return os.path.join(home(), "state", name)


def ensure_private_dir(path: str) -> str:
    """Create ``path`` (and parents) as 0700 and return it; conversation text lives below."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def write_private_json(path: str, data: object) -> os.stat_result:
    """Write ``data`` as JSON to ``path`` atomically, as ``write_private_text`` writes."""
    from mem0_hooks import fastjson

    return write_private_text(path, fastjson.dumps(data))


def write_private_text(path: str, text: str) -> os.stat_result:
    """Write ``text`` to ``path`` atomically (temp file + ``os.replace``), mode 0600; returns the written
    file's stat (taken before the rename: the file now at ``path`` may already be another writer's).

    The parent directory is created 0700. A failed write leaves no temp file behind; the OSError is
    the caller's to judge (a hook shrugs, the CLI reports it).
    """
    from _thread import get_ident

    ensure_private_dir(os.path.dirname(path) or ".")
    tmp = f"{path}.{os.getpid()}.{get_ident()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            written = os.fstat(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return written
