"""The hook side of the warm process: hand the event to it when it runs, else do the work here.

A hook that does its own work pays for importing sqlite3, the ranking code and the config, and for
opening the store, on every prompt: two to four times a bare Python start. The warm process
(``mem0_hooks.warm``) has all of that loaded and open, so a hook served by it costs a Python start,
this module and one round trip on a Unix socket.

    hook ──stdin──▶ relay.main ──socket──▶ warm process ──▶ the event's handler ──▶ reply ──▶ stdout
                        │
                        └── no warm process (or it declines): run the handler in this process,
                            then start one in the background for the next hook

The request is a header line (protocol, fingerprint, event, the hook's deadline), a line with its cwd and
``CLAUDE_PROJECT_DIR``, then the hook's stdin unchanged. The reply is ``ok`` and the hook's output, or
``fallback`` when the warm process will not serve it (switched off, its code changed on disk).

Which warm process a hook talks to is decided by a *fingerprint*: the package version and location,
the interpreter, the data dir, every ``MEM0_*`` variable (the config overrides and the API key) and
the few others that change a handler's behaviour (``FINGERPRINT_ENV``). A hook run with other
settings never talks to a process started with different ones.

Nothing is lost when the warm process dies halfway: a request without an answer is run again here,
and a captured turn has a stable id, so the second capture of it is the same queue item.

Imports are a budget here as in ``events.runner``: this module runs on every prompt before anything
else, so a hook the warm process serves imports only ``posix``, ``sys``, ``time`` and ``_socket``. Not
``os`` (a millisecond under ``-S``, a tenth of a Python start: paths here are built with ``/``, and
``os`` is imported only to do the work in this process), not ``mem0_hooks.paths`` (``data_home``
repeats its rule), not even ``from __future__ import annotations`` (annotations here are built-in
types or strings).
"""

import posix
import sys

from mem0_hooks import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = b"mem0-hooks-warm/1"
MAX_INPUT_BYTES = 16 * 1024 * 1024
HOOK_SECONDS = 9.0  # a hook's whole budget (Claude Code kills it at its timeout, 10 s by default)
LOCAL_RESERVE_SECONDS = 3.0  # of which sending to the warm process may not use the last 3 s
START_INTERVAL = 30.0  # seconds: a warm process that fails to start is not started again before this
MAX_SOCKET_PATH = 100  # bytes; AF_UNIX paths are limited to 104-108 depending on the system

# Events the warm process serves, and their handlers (module, function). It serves one request at a
# time, so it takes a Stop only when the transcript's new tail is small (``warm.MAX_STOP_TAIL``); a
# first capture of a long session, SessionEnd and PreCompact read up to tens of MB and run in their
# own process, where they hold up nobody else's prompt.
HANDLERS = {
    "SessionStart": ("mem0_hooks.events.session_start", "session_start"),
    "UserPromptSubmit": ("mem0_hooks.events.user_prompt_submit", "user_prompt_submit"),
    "Stop": ("mem0_hooks.events.stop", "stop"),
}
# Events the quick client (hooks/warm_client.sh) hands to the warm process without a Python start:
# install writes it as their command, the warm process serves them from it (``warm.Warm.handle_quick``).
QUICK_EVENTS = ("SessionStart", "UserPromptSubmit")
# Variables besides MEM0_* that change what a handler does (paths, proxies, certificates, local time).
FINGERPRINT_ENV = (
    "HOME",
    "XDG_DATA_HOME",
    "TZ",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def environ() -> "dict[str, str] | Any":
    """The environment as ``os.environ`` has it, without importing ``os`` when nothing has yet."""
    os = sys.modules.get("os")
    if os is not None:
        return os.environ  # kept up to date by whoever changed it through os
    enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    return {k.decode(enc, errors): v.decode(enc, errors) for k, v in posix.environ.items()}


def abspath(path: str) -> str:
    """``os.path.abspath(path)``; without ``os`` when ``path`` is already absolute and normal."""
    if path.startswith("/") and not (
        "//" in path or "/./" in path or "/../" in path or path.endswith(("/", "/.", "/.."))
    ):
        return path
    import os

    return os.path.abspath(path)


def data_home(env: "dict[str, str] | None" = None) -> str:
    """``os.path.abspath(paths.home())``: the same rule (tests hold them equal), without ``os``; with
    ``env``, the data dir a process with that environment would use (the warm process asks it of the
    quick client's, ``hooks/warm_client.sh``)."""
    if env is None:
        env = environ()
    home = env.get("MEM0_HOOKS_HOME")
    if not home:
        base = env.get("XDG_DATA_HOME") or (env.get("HOME") and env["HOME"].rstrip("/") + "/.local/share")
        if not base:  # no HOME: ``~`` comes from the password database
            from mem0_hooks import paths

            return abspath(paths.home())
        home = base + "/mem0-hooks"
    return abspath(home)


def fingerprint(
    home: str,
    *,
    executable: str | None = None,
    package: str | None = None,
    env: "dict[str, str] | None" = None,
) -> str:
    """What a warm process must share with a hook to serve it, as 8 hex digits: the code (version and
    where it is), the interpreter, the data dir, the ``MEM0_*`` environment and ``FINGERPRINT_ENV``.

    This process's own by default; the warm process gives the interpreter, package and environment of
    a quick client (``hooks/warm_client.sh``) to learn the fingerprint its Python hook would have.
    """
    if executable is None:
        executable = sys.executable
    if package is None:
        package = abspath(__file__).rpartition("/")[0]
    if env is None:
        env = environ()
    parts = [__version__, package, executable, home]
    parts += sorted(f"{k}={v}" for k, v in env.items() if k.startswith("MEM0_") or k in FINGERPRINT_ENV)
    digest = 0x811C9DC5  # 32-bit FNV-1a: a stable name for a socket, no module to load (zlib is a shared library)
    for byte in chr(0).join(parts).encode("utf-8", "surrogateescape"):
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{digest:08x}"


def run_dir(home: str) -> str:
    return _join(home, "run")


def quick_door(home: str) -> str:
    """The file that tells the quick client (``hooks/warm_client.sh``) where a warm process of this data
    dir listens on 127.0.0.1: ``<port> <client token> <server token> <pid>`` (see ``warm.Warm.open_door``)."""
    return _join(run_dir(home), "warm.door")


def read_door(home: str) -> "tuple[int, str, str, int] | None":
    """(port, client token, server token, pid) from the door file, None when there is none (it is gone for
    a moment while one warm process hands it to the next) or it does not read as one."""
    try:
        with open(quick_door(home), encoding="utf-8") as fh:
            port, client, server, pid = fh.read().split()
        return int(port), client, server, int(pid)
    except (OSError, ValueError):
        return None


def start_stamp(home: str, fp: str) -> str:
    """The file whose age says a warm process for ``fp`` was started just now (see ``start_warm``)."""
    return _join(run_dir(home), f"warm-{fp}.started")


def socket_path(home: str, fp: str) -> str:
    """Where the warm process for ``fp`` listens: in the data dir, or, when that path is too long for a
    Unix socket, in a private directory of this user under ``$XDG_RUNTIME_DIR`` (else ``/tmp``)."""
    path = _join(run_dir(home), f"warm-{fp}.sock")
    if len(path.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())) <= MAX_SOCKET_PATH:
        return path
    base = environ().get("XDG_RUNTIME_DIR") or "/tmp"  # noqa: S108 - checked by private_dir before use
    return _join(_join(base, f"mem0-hooks-{posix.getuid()}"), f"warm-{fp}.sock")


def private_dir(path: str) -> bool:
    """True when ``path`` is a real directory owned by this user that nobody else can enter.

    A socket in a directory someone else controls could be theirs: a hook would hand them the prompt
    and print their answer into Claude's context.
    """
    try:
        st = posix.lstat(path)
    except (OSError, ValueError):
        return False
    return (st.st_mode & 0o170000) == 0o040000 and st.st_uid == posix.getuid() and not st.st_mode & 0o077


def main(event: str) -> None:
    """Entry point of ``hooks/<event>.py``: answer the hook, always exit 0.

    One time budget (``HOOK_SECONDS``) covers everything: asking the warm process, and doing the
    work here when it could not take the request (then with what is left of the budget).
    """
    import time

    deadline = time.time() + HOOK_SECONDS
    try:
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES)
    except BaseException:  # noqa: BLE001 - no input to act on
        raw = b""
    output = None
    where = None
    try:
        home = data_home()
        fp = fingerprint(home)
        where = (home, fp, socket_path(home, fp))
        output = ask(where[2], fp, event, raw, deadline)
    except BaseException:  # noqa: BLE001 - the warm process is an optimisation: do the work here instead
        output = None
    if output is not None:
        _write(output)
        posix._exit(0)
    try:
        from mem0_hooks.events import runner

        module, name = HANDLERS[event]
        handler = getattr(__import__(module, fromlist=[name]), name)
        seconds = max(int(deadline - time.time()), 1)
        runner.write_output(runner.respond(event, handler, raw, seconds=seconds))
        try:
            sys.stdout.close()  # Claude Code has its answer: what is left (bookkeeping, starting the
        except BaseException:  # noqa: BLE001 - warm process) is not waited for; a closed pipe changes nothing
            pass
        runner.finish()
        if where is not None:
            start_warm(*where)
    except BaseException as exc:  # noqa: BLE001 - e.g. half-upgraded code that does not import: stay quiet
        log_warning(f"{event}: {type(exc).__name__}: {exc}")
    posix._exit(0)


def ask(
    path: str, fp: str, event: str, raw: bytes, deadline: float, place: "tuple[bytes, bytes] | None" = None
) -> bytes | None:
    """The warm process's answer to this hook (bytes to print), or None when it did not serve it.

    ``place`` is the hook's cwd and ``CLAUDE_PROJECT_DIR``: this process's by default (the warm process
    passes a quick client's on, see ``warm.Warm.handle_quick``).

    None means "do it here": no warm process, it declined, it could not take the whole request in
    time, or it went away before answering (the request may have been half done; running it again is
    safe: a capture has a stable id). A warm process that took the whole request but did not answer
    by ``deadline`` yields ``b""``: it will still capture, and running the handler here as well
    would outlast Claude Code's timeout.
    """
    if not private_dir(path.rpartition("/")[0]):
        return None
    import _socket
    import time

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        # Sending must leave time to do the work here if it fails (a warm process busy elsewhere).
        sock.settimeout(max(deadline - time.time() - LOCAL_RESERVE_SECONDS, 0.05))
        if place is None:  # (as the warm process decodes them)
            place = (posix.getcwd().encode("utf-8", "surrogateescape"), _env_bytes("CLAUDE_PROJECT_DIR"))
        cwd, project_dir = place
        header = b"%s %s %s %.3f\n%s\0%s\n" % (PROTOCOL, fp.encode(), event.encode(), deadline, cwd, project_dir)
        try:
            sock.connect(path)
            sock.sendall(header + raw)
            sock.shutdown(_socket.SHUT_WR)
        except OSError:
            return None  # nobody listening (never started, exited, a stale socket file), or too busy
        try:
            sock.settimeout(max(deadline - time.time(), 0.05))
            reply = recv_all(sock, MAX_INPUT_BYTES)
        except TimeoutError:
            log_warning(f"{event}: the warm process did not answer in time; nothing injected (it still captures)")
            return b""
        except OSError:
            return None  # it went away mid-request
    finally:
        sock.close()
    status, _, output = reply.partition(b"\n")
    return output if status == b"ok" else None


def _env_bytes(name: str) -> bytes:
    return environ().get(name, "").encode("utf-8", "surrogateescape")


def _join(directory: str, name: str) -> str:
    return directory + name if directory.endswith("/") else f"{directory}/{name}"


def recv_all(sock: "Any", limit: int) -> bytes:
    """What the peer sends until it closes its side (reading stops past ``limit`` bytes)."""
    chunks = []
    size = 0
    while size <= limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def start_warm(home: str, fp: str, path: str) -> None:
    """Start a warm process for the next hooks, unless it is switched off or one was started just now."""
    import os

    from mem0_hooks import config as config_mod
    from mem0_hooks import paths

    config = config_mod.load()
    if not config["claude_code"]["warm_process"] or not config["claude_code"]["memory_integration"]:
        return
    if getattr(sys.modules.get("_bootstrap"), "setting_up", False):
        return  # the plugin before its setup is done: the next hooks run with the venv's interpreter
    paths.ensure_private_dir(run_dir(home))
    stamp = start_stamp(home, fp)
    import time

    try:
        if time.time() - os.stat(stamp).st_mtime < START_INTERVAL:
            return  # starting (it takes a moment), or it failed to start: this hook does not pile on
    except OSError:
        pass
    os.close(os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    os.utime(stamp)
    # The warm process gets this hook's sys.path (the venv's site-packages included under -S) and
    # environment, so it imports what this hook would and computes the same fingerprint.
    code = f"import sys; sys.path[:] = {sys.path!r}; from mem0_hooks.warm import main; main({home!r}, {fp!r}, {path!r})"
    from mem0_hooks.detach import spawn_python

    spawn_python("-S", "-c", code)


def _write(output: bytes) -> None:
    if output:
        try:
            sys.stdout.buffer.write(output)
            sys.stdout.flush()
        except BaseException:  # noqa: BLE001 - Claude Code went away
            pass


def log_warning(message: str) -> None:
    """One WARNING line in the log, never an error of its own (shared with ``events.runner``)."""
    try:
        from mem0_hooks.log import log

        log(message, level="WARNING")
    except BaseException:  # noqa: BLE001
        pass


def describe(home: str) -> "list[dict[str, Any]]":
    """The warm processes of this data dir (for ``status`` and ``uninstall``): pid, fingerprint, socket,
    and whether it answers. Each writes ``run/warm-<fingerprint>.pid`` (its pid, then its socket path)."""
    import os

    found = []
    try:
        names = os.listdir(run_dir(home))
    except OSError:
        return []
    for name in sorted(names):
        if not (name.startswith("warm-") and name.endswith(".pid")):
            continue
        try:
            with open(os.path.join(run_dir(home), name), encoding="utf-8") as fh:
                pid_line, _, path = fh.read().partition("\n")
            pid = int(pid_line)
        except (OSError, ValueError):
            continue
        fp = name[len("warm-") : -len(".pid")]
        path = path.strip()
        found.append({"pid": pid, "fingerprint": fp, "socket": path, "alive": _control(path, fp, "ping")})
    return found


def stop_all(home: str) -> int:
    """Ask every warm process of this data dir to exit (through its socket, never by pid: a stale pid
    file could name another process); returns how many did."""
    return sum(_control(proc["socket"], proc["fingerprint"], "stop") for proc in describe(home) if proc["alive"])


def _control(path: str, fp: str, command: str) -> bool:
    """Send ``ping`` or ``stop`` to the warm process at ``path``; True when it answered ``ok``."""
    import time

    try:
        return ask(path, fp, command, b"", time.time() + LOCAL_RESERVE_SECONDS + 2) is not None
    except OSError:
        return False
