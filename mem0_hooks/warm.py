"""The warm process: serves SessionStart, UserPromptSubmit and (short) Stop hooks with everything loaded.

Started in the background by a hook that found none (``relay.start_warm``), one per data dir and
fingerprint (see ``relay``). It listens on a Unix socket in a private directory, serves one request at
a time with the same handlers and the same fail-open shell as a hook process
(``events.runner.respond``), and exits:

* after ``claude_code.warm_process_idle_minutes`` without a request;
* when switched off (``claude_code.warm_process: false``), asked to (``mem0-hooks uninstall``, ``stop``
  on the socket), or sent SIGTERM;
* when its code changed on disk (an upgrade, a developer's edit): the request that notices is
  declined and run by the hook itself, and the next hook starts a fresh process;
* when its data dir or its socket file is gone, or another process took the socket path.

Every request re-reads what a hook process would (config, session state, pause and consent files,
the store), so it answers exactly as a fresh hook process would, only sooner. What stays in memory
is code, the open store connection, and caches that are checked against their source on every use:
the config and session state it last read or wrote (kept while the file is unchanged), word counts
and the words of recently read turns (see ``backends.local``), and a count of the queue.
"""

from __future__ import annotations

import math
import os
import sys
import time

from mem0_hooks import relay

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_HANDLER_SECONDS = 8
MAX_STOP_TAIL = 512 * 1024  # bytes of new transcript a Stop may have to be served here
TICK = 2.0  # seconds between checks of the exit conditions while idle
READ_TIMEOUT = 2.0  # a client that connects but does not send its request is dropped after this
# The quick client (hooks/warm_client.sh, events relay.QUICK_EVENTS): its protocol, what its fields may weigh.
QUICK_PROTOCOL = b"mem0-hooks-quick/1"
PREAMBLE_FIELDS = 6  # protocol and token, event, cwd, CLAUDE_PROJECT_DIR, interpreter, hooks folder
MAX_PREAMBLE = 1024 * 1024


class Warm:
    """One warm process: its socket, its exit conditions, and the loop that serves hooks."""

    def __init__(self, home: str, fp: str, path: str) -> None:
        self.home = home
        self.fp = fp
        self.path = path
        self.pid_file = os.path.join(relay.run_dir(home), f"warm-{fp}.pid")
        self.code = _CodeWatch()
        self.last_request = time.monotonic()
        self.stopping = False
        self.served = False
        self.sock: Any = None
        self.inode = 0
        self.embedder = _Embedder()
        self.door: Any = None  # the quick client's TCP socket, when this process holds the data dir's door
        self.door_tokens = (b"", b"")  # (what a client proves itself with, what this process answers with)
        self.door_lock = -1

    # -- life --------------------------------------------------------------------------------------
    def claim(self) -> bool:
        """Take this fingerprint's lock; False when another warm process has it."""
        from mem0_hooks import paths

        paths.ensure_private_dir(relay.run_dir(self.home))  # the pid file's
        folder = paths.ensure_private_dir(os.path.dirname(self.path))  # the socket's (the same, or a short path)
        if not relay.private_dir(folder):
            raise OSError(f"{folder} is not a private directory of this user; the warm process stays off")
        lock = _take_lock(self.path + ".lock")
        if lock is None:
            return False
        self.lock_fd = lock
        return True

    def listen(self) -> None:
        """Open the socket hooks hand their requests to (once everything is loaded: a hook that finds no
        socket does its own work at once, where one that found it would wait for the loading)."""
        import socket

        try:
            os.unlink(self.path)  # a socket file left by a warm process that was killed
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self.sock.settimeout(TICK)
        self.inode = os.stat(self.path).st_ino
        tmp = f"{self.pid_file}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n{self.path}\n")
        os.replace(tmp, self.pid_file)
        self._try_door(complain=True)

    def _try_door(self, complain: bool = False) -> None:
        try:
            self.open_door()
        except OSError as exc:  # no loopback, no port: the quick client falls back to the Python hook
            if complain:
                from mem0_hooks.log import log

                log(f"warm process: the quick client's door stays shut: {exc}", level="WARNING")

    def open_door(self) -> None:
        """Listen for the quick client (``hooks/warm_client.sh``) on 127.0.0.1, when no other warm process of
        this data dir does (one door per data dir: it serves hooks of its own fingerprint and passes the
        others on to their warm process's socket, see ``handle_quick``).

        The door file (``relay.quick_door``, 0600 in the private run dir) holds the port and two random
        tokens, new at every start. A client proves itself with the first before anything is read; this
        process proves itself with the second before the client sends the prompt, so a program that
        took the port after this process ended learns nothing but a dead token.
        """
        import secrets
        import socket

        from mem0_hooks import paths

        door = relay.quick_door(self.home)
        fd = _take_lock(door + ".lock")
        if fd is None:
            return  # another warm process of this data dir holds the door, and passes our hooks on
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.listen(64)
            sock.settimeout(TICK)
            self.door_tokens = (secrets.token_hex(16).encode(), secrets.token_hex(16).encode())
            port = sock.getsockname()[1]
            client, server = (token.decode() for token in self.door_tokens)
            paths.write_private_text(door, f"{port} {client} {server} {os.getpid()}\n")
        except BaseException:
            sock.close()
            os.close(fd)
            raise
        self.door, self.door_lock = sock, fd

    def _unstamp(self) -> None:
        try:
            os.unlink(relay.start_stamp(self.home, self.fp))
        except OSError:
            pass

    def serve(self) -> None:
        import select

        checked = time.monotonic()
        while not self.stopping:
            listening = [sock for sock in (self.sock, self.door) if sock is not None]
            try:
                ready, _, _ = select.select(listening, [], [], TICK)
            except (OSError, ValueError):
                ready = []
            for sock in ready:
                try:
                    conn, _ = sock.accept()
                except (OSError, TimeoutError):
                    continue
                try:
                    if sock is self.sock:
                        self.handle(conn)
                    else:
                        self.handle_quick(conn)
                finally:
                    conn.close()
            self.embedder.run()  # (after the answer and its bookkeeping, or when idle: nobody waits)
            if time.monotonic() - checked >= TICK:
                checked = time.monotonic()
                _reap_children()
                if self.door is None:
                    self._try_door()  # the warm process that held it (other settings) may have exited
                if self.should_exit():
                    return

    def should_exit(self) -> bool:
        from mem0_hooks import config as config_mod

        try:
            if os.stat(self.path).st_ino != self.inode or not os.path.isdir(self.home):
                return True
            config = config_mod.load()
        except Exception:  # noqa: BLE001 - socket or data dir gone, config unreadable: step aside
            return True
        idle = time.monotonic() - self.last_request
        cc = config["claude_code"]
        return not cc["warm_process"] or idle > cc["warm_process_idle_minutes"] * 60 or self.code.changed(scan=True)

    def stale(self) -> bool:
        """True when the package's code changed on disk since this process loaded it."""
        return self.code.changed()

    def close(self) -> None:
        if self.served:
            self._unstamp()  # (one that failed before serving keeps it: hooks do not restart it at once)
        try:
            if self.sock is not None and os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        except OSError:
            pass
        try:
            with open(self.pid_file, encoding="utf-8") as fh:
                mine = fh.read().split("\n", 1)[0] == str(os.getpid())
            if mine:
                os.unlink(self.pid_file)
        except OSError:
            pass
        if self.door is not None:
            try:
                os.unlink(relay.quick_door(self.home))  # (the lock says it is ours: nobody else writes it)
            except OSError:
                pass

    # -- one request -------------------------------------------------------------------------------
    def handle(self, conn: Any) -> None:
        conn.settimeout(READ_TIMEOUT)
        try:
            request = relay.recv_all(conn, relay.MAX_INPUT_BYTES + 65536)
        except OSError:
            return
        head, _, rest = request.partition(b"\n")
        place, _, raw = rest.partition(b"\n")
        parts = head.split(b" ")
        if len(parts) != 4 or parts[0] != relay.PROTOCOL or parts[1].decode(errors="replace") != self.fp:
            self.reply(conn, b"fallback\n")
            return
        event = parts[2].decode(errors="replace")
        try:
            deadline = float(parts[3])
        except ValueError:
            self.reply(conn, b"fallback\n")
            return
        if event == "ping":
            self.reply(conn, b"ok\n")
            return
        if event == "stop":
            self.stopping = True
            self.reply(conn, b"ok\n")
            return
        cwd, _, project_dir = place.partition(b"\0")
        self.serve_event(conn, event, raw, cwd, project_dir, deadline)

    def serve_event(self, conn: Any, event: str, raw: bytes, cwd: bytes, project_dir: bytes, deadline: float) -> None:
        """Run ``event``'s handler on ``raw`` where the hook stood, and reply ``ok`` and its output (or
        ``fallback``: the hook then does the work itself)."""
        from mem0_hooks import config as config_mod

        config = _config()
        if event not in relay.HANDLERS or self.stale() or config is None or not config["claude_code"]["warm_process"]:
            self.stopping = event in relay.HANDLERS  # stale, switched off, config unreadable: step aside
            self.reply(conn, b"fallback\n")
            return
        if event == "Stop" and not _small_tail(raw):
            self.reply(conn, b"fallback\n")  # a long read: the hook does it, holding up nobody else
            return
        self.last_request = time.monotonic()  # only hooks keep it alive (not ``status`` asking if it runs)
        _take_place(cwd.decode("utf-8", "surrogateescape"), project_dir.decode("utf-8", "surrogateescape"), self.home)
        from mem0_hooks.events import runner

        module, name = relay.HANDLERS[event]
        handler = getattr(__import__(module, fromlist=[name]), name)
        # The hook's own deadline bounds the handler (at least a second: a hook that gave up waiting
        # still has its prompt captured; the capture comes first and recall is what the alarm cuts).
        seconds = min(max(math.ceil(deadline - time.time()), 1), MAX_HANDLER_SECONDS)
        config_mod.hold(config)  # what the handler reads is what was checked here
        try:
            output = runner.respond(event, handler, raw, seconds=seconds)
            if not self.served:
                self.served = True
                self._unstamp()  # it works: if it dies from now on, the next hook may start another at once
            self.reply(conn, b"ok\n" + output.encode("utf-8", "surrogatepass"))
            conn.close()  # the hook prints its answer now; the handler's bookkeeping is done after
        finally:
            runner.finish()  # never left over for the next request
            config_mod.hold(None)
            os.environ.pop("CLAUDE_PROJECT_DIR", None)  # not passed on to a flusher it starts

    def handle_quick(self, conn: Any) -> None:
        """A request from the quick client (``hooks/warm_client.sh``, bash on a TCP socket of 127.0.0.1).

        The client sends, each field ended by a NUL: ``QUICK_PROTOCOL`` and its token, the event, its cwd,
        ``CLAUDE_PROJECT_DIR``, the interpreter and the hooks folder its Python hook would run with, and
        ``NAME=value`` for each ``MEM0_*`` and ``relay.FINGERPRINT_ENV`` variable, then an empty field.
        Those give the fingerprint the Python hook would have. A wrong token gets no answer at all; else
        this process answers with its own token and ``go`` (or ``fallback``: the client then runs the
        Python hook). Then the client sends the hook's stdin and a NUL, and gets what the Unix socket's
        clients get: ``ok`` and the output, or ``fallback``. A hook of another fingerprint (other
        settings) is passed on to its own warm process's socket.
        """
        started = time.time()
        conn.settimeout(READ_TIMEOUT)
        _quick_ack(conn)
        try:
            fields = _read_preamble(conn)
        except OSError:
            return
        if fields is None:
            return
        head = fields[0].split(b" ")
        if len(head) != 2 or head[0] != QUICK_PROTOCOL or not _same(head[1], self.door_tokens[0]):
            return  # not our client: it learns nothing, not even our token
        event = fields[1].decode(errors="replace")
        cwd, project_dir, python, hooks = fields[2], fields[3], fields[4], fields[5]
        env = {}
        for entry in fields[6:]:
            name, _, value = entry.decode("utf-8", "surrogateescape").partition("=")
            env[name] = value
        try:
            home = relay.data_home(env)
            executable = python.decode("utf-8", "surrogateescape")
            fp = relay.fingerprint(
                home,
                executable=executable,
                package=_package_of(hooks.decode("utf-8", "surrogateescape"), executable),
                env=env,
            )
        except Exception:  # noqa: BLE001 - e.g. no HOME: the Python hook knows what to do
            fp = ""
        ours = fp == self.fp
        if event not in relay.QUICK_EVENTS or not fp or (ours and self.stale()):
            self.reply(conn, self.door_tokens[1] + b" fallback\n")
            return
        self.reply(conn, self.door_tokens[1] + b" go\n")
        deadline = started + relay.HOOK_SECONDS - 1.0  # the client waits a little longer than that
        try:
            conn.settimeout(max(deadline - time.time(), 0.05))
            raw = _read_until_nul(conn, relay.MAX_INPUT_BYTES)
        except OSError:
            return
        if raw is None:
            return
        if ours:
            self.serve_event(conn, event, raw, cwd, project_dir, deadline)
            return
        try:  # another fingerprint's hook: its own warm process serves it, when it runs
            output = relay.ask(relay.socket_path(home, fp), fp, event, raw, deadline, place=(cwd, project_dir))
        except Exception:  # noqa: BLE001
            output = None
        self.reply(conn, b"fallback\n" if output is None else b"ok\n" + output)

    @staticmethod
    def reply(conn: Any, data: bytes) -> None:
        try:
            conn.sendall(data)
        except OSError:
            pass  # the hook gave up waiting; it logged that


def main(home: str, fp: str, path: str) -> None:
    """Entry point of the detached warm process (started by ``relay.start_warm``)."""
    os.umask(0o077)
    warm = None
    try:
        import signal

        warm = Warm(home, fp, path)
        if relay.fingerprint(home) != fp:
            return  # started with another environment than the hook that asked for it: never serve it
        signal.signal(signal.SIGTERM, lambda *_: setattr(warm, "stopping", True))
        if not warm.claim():
            return
        try:
            _preload()
        except Exception as exc:  # noqa: BLE001 - serve anyway: each request fails open as a hook would
            from mem0_hooks.log import log_exception

            log_exception("warm process start", exc)
        warm.listen()
        warm.serve()
        warm.served = True  # a clean exit (idle, stopped, stale code): the next hook may start one at once
    except BaseException as exc:  # noqa: BLE001 - a failed warm process only means hooks run on their own
        from mem0_hooks.log import log_exception

        log_exception("warm process", exc)
    finally:
        if warm is not None:
            warm.close()
        os._exit(0)


def _preload() -> None:
    """Import what the handlers use and open the store, so the first hook served is as quick as the rest."""
    from mem0_hooks import capture, context, queue, recall, redact, session, transcript  # noqa: F401
    from mem0_hooks import config as config_mod
    from mem0_hooks.events import session_start, stop, user_prompt_submit  # noqa: F401

    config = config_mod.load()
    if config_mod.keeps_local_index(config):
        recall.local_store().db  # noqa: B018 - opens the connection (and applies migrations) now
        if recall.semantic_weight(config) and recall.load_embeddings():
            from mem0_hooks import flush, vectors

            if vectors.needed(recall.local_store()):
                flush.spawn()  # a store from before semantic recall, or an upgrade: backfilled in the background
    if config["backend"] != "local":
        from mem0_hooks.backends import open_backend

        open_backend(config, for_recall=True)  # imports the HTTP client; no request is made


class _Embedder:
    """Gives the turns the flusher stores their vectors, a batch at a time, with the model this process
    holds anyway (``flush.embed_local`` leaves new turns to a running warm process). It looks past the
    last row it saw, so a look costs one indexed query; a look that finds the store's write lock taken
    gives up at once (a hook may be waiting) and tries again on the next pass."""

    BATCH = 64
    EVERY = 1.0  # seconds between looks at the store

    def __init__(self) -> None:
        self.after = 0  # rowids up to this one have been looked at
        self.next_at = 0.0

    def run(self) -> None:
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + self.EVERY
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - a locked or failing store: the flusher catches up
            from mem0_hooks.log import log

            log(f"warm process: could not embed new memories: {exc}", level="DEBUG")

    def _run(self) -> None:
        from mem0_hooks import embedding, recall, vectors

        model = embedding.loaded()
        config = _config()
        if model is None or config is None or not recall.semantic_weight(config):
            return
        if config["backend"] != "local" and config["claude_code"]["fallback_mode"] != "local":
            return
        store = recall.local_store()
        state = store.vector_state()
        if state.get("model") != model.id:
            if state.get("model") or int(state.get("count") or 0):
                return  # vectors of another model: the flusher's backfill (a background job) redoes them
            store.reset_vectors(model.id)  # a store without vectors yet: they will be this model's
        rows = store.without_vectors(self.after, self.BATCH)
        if not rows:
            self.after = max(self.after, store.newest_rowid())
            return
        db = store.db
        db.execute("PRAGMA busy_timeout = 0")  # a writer at work: try again later, never make a hook wait
        try:
            vectors.embed_rows(store, model, rows)
        finally:
            db.execute(f"PRAGMA busy_timeout = {int(store.timeout * 1000)}")
        self.after = rows[-1][0]
        self.next_at = time.monotonic()  # more may be waiting: look again after the next request or tick


def _take_lock(path: str) -> int | None:
    """The open file descriptor of ``path`` with an exclusive lock held on it (kept for this process's life),
    or None when another process holds it."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _quick_ack(conn: Any) -> None:
    """Acknowledge what the quick client sends at once: bash writes a long prompt in pieces, and each piece
    after the first would wait for the acknowledgement of the last (Nagle), which Linux delays up to 40 ms."""
    import socket

    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        quickack = getattr(socket, "TCP_QUICKACK", None)
        if quickack is not None:
            conn.setsockopt(socket.IPPROTO_TCP, quickack, 1)
    except OSError:
        pass


def _read_preamble(conn: Any) -> list[bytes] | None:
    """The quick client's fields up to the empty one that ends them (None: it sent something else)."""
    data = b""
    while len(data) <= MAX_PREAMBLE:
        fields = data.split(b"\0")
        if len(fields) > PREAMBLE_FIELDS and b"" in fields[PREAMBLE_FIELDS:-1]:
            return fields[: fields.index(b"", PREAMBLE_FIELDS)]
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return None


def _read_until_nul(conn: Any, limit: int) -> bytes | None:
    """What the quick client sends up to a NUL (the hook's stdin: JSON text never holds one)."""
    import socket

    quickack = getattr(socket, "TCP_QUICKACK", None)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        if quickack is not None:
            conn.setsockopt(socket.IPPROTO_TCP, quickack, 1)  # (Linux turns it off again after a while)
        chunk = conn.recv(262144)
        if not chunk:
            return None
        end = chunk.find(b"\0")
        if end >= 0:
            chunks.append(chunk[:end])
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


def _same(given: bytes, token: bytes) -> bool:
    import hmac

    return bool(token) and hmac.compare_digest(given, token)


def _package_of(hooks: str, python: str) -> str:
    """Where the ``mem0_hooks`` package is that a Python hook in ``hooks`` run by ``python`` imports, as
    ``hooks/_bootstrap.py`` arranges it: beside ``hooks`` (a checkout, the plugin), else in the venv."""
    beside = os.path.join(os.path.dirname(hooks), "mem0_hooks")
    if os.path.isdir(beside):
        return beside
    venv = os.path.dirname(os.path.dirname(python))
    return "{}/lib/python{}.{}/site-packages/mem0_hooks".format(venv, *sys.version_info[:2])


def _small_tail(raw: bytes) -> bool:
    """Whether a Stop's transcript has at most ``MAX_STOP_TAIL`` new bytes since the last capture."""
    from mem0_hooks import fastjson, session

    try:
        data = fastjson.loads(raw.decode("utf-8", "replace"))
        path, session_id = data.get("transcript_path"), data.get("session_id")
        if not isinstance(path, str) or not path or not isinstance(session_id, str) or not session_id:
            return True  # nothing to read: the handler only takes last_assistant_message
        offset = session.load(session_id).get("offset")
        size = os.stat(path).st_size
    except (ValueError, RecursionError, AttributeError, OSError):
        return True  # the handler copes with (and logs) whatever this is
    if not isinstance(offset, int) or offset > size:
        offset = 0  # never captured, or the transcript was replaced: read from the start
    return size - offset <= MAX_STOP_TAIL


def _config() -> dict[str, Any] | None:
    """The config as a hook process would read it now; None when it cannot be read (the hook process
    then does the work, and reports the fault as it would)."""
    from mem0_hooks import config as config_mod

    try:
        return config_mod.load()
    except Exception:  # noqa: BLE001 - e.g. a config.yaml just broken by hand
        return None


def _take_place(cwd: str, project_dir: str, home: str) -> None:
    """Stand where the hook stood: its cwd and ``CLAUDE_PROJECT_DIR`` decide the project."""
    try:
        os.chdir(cwd)
    except OSError:
        os.chdir(home if os.path.isdir(home) else "/")
    if project_dir:
        os.environ["CLAUDE_PROJECT_DIR"] = project_dir
    else:
        os.environ.pop("CLAUDE_PROJECT_DIR", None)


def _reap_children() -> None:
    """Collect the flushers this process started (each a child until it exits)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class _CodeWatch:
    """Whether the package's ``.py`` files changed on disk since this process started.

    Asked before every request. On Linux the kernel says so (inotify, watching the package's
    directories from before the handlers are imported): one ``read`` of its queue, where scanning
    the files costs a quarter of a millisecond with cold caches. Elsewhere, or when inotify is not to
    be had, the files' mtimes and number are compared (``_code_stamp``) on every request; with
    inotify, also every few seconds while idle.
    """

    def __init__(self) -> None:
        dirs = _package_dirs()
        self.fd = _inotify(dirs)
        self.stamp = _code_stamp(dirs)  # taken after the watches: no change falls between
        self.seen = False

    def changed(self, scan: bool = False) -> bool:
        """``scan``: compare the files' mtimes as well (every few seconds while idle), for the
        filesystems whose changes inotify does not see (a network or VM-shared mount edited elsewhere)."""
        if not self.seen and self.fd is not None:
            self.seen = self._events()
        if not self.seen and (scan or self.fd is None):
            self.seen = _code_stamp(_package_dirs()) != self.stamp
        return self.seen

    def _events(self) -> bool:
        found = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            except OSError:
                return True  # the watch is broken: assume the worst
            at = 0
            while at + 16 <= len(data):
                mask = int.from_bytes(data[at + 4 : at + 8], sys.byteorder)
                size = int.from_bytes(data[at + 12 : at + 16], sys.byteorder)
                name = data[at + 16 : at + 16 + size].rstrip(b"\0")
                at += 16 + size
                if mask & _IN_ANY_DIR_CHANGE or name.endswith(b".py") or (mask & _IN_ISDIR and name[:1] not in b"_."):
                    found = True


# inotify(7) masks. Watched: modify, attrib, close-write, moved from/to, create, delete, delete/move self.
_IN_WATCHED = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
_IN_ANY_DIR_CHANGE = 0x400 | 0x800 | 0x4000 | 0x8000  # a watched directory deleted or moved, overflow, ignored
_IN_ISDIR = 0x40000000


def _inotify(dirs: list[str]) -> int | None:
    """A non-blocking inotify descriptor watching ``dirs``; None where there is none (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        for directory in dirs:
            if libc.inotify_add_watch(fd, os.fsencode(directory), _IN_WATCHED) < 0:
                os.close(fd)
                return None
        return int(fd)
    except (OSError, AttributeError, ImportError):
        return None


def _package_dirs() -> list[str]:
    """The package's directory and its subpackages' (not ``__pycache__`` or hidden ones)."""
    found = []
    pending = [os.path.dirname(os.path.abspath(__file__))]
    while pending:
        directory = pending.pop()
        found.append(directory)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        pending += [e.path for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith(("_", "."))]
    return found


def _code_stamp(dirs: list[str]) -> tuple[int, int]:
    """(newest mtime, number) of the ``.py`` files in ``dirs``: changes when an upgrade or edit lands."""
    newest, count = 0, 0
    for directory in dirs:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py"):
                try:
                    newest = max(newest, entry.stat().st_mtime_ns)
                except OSError:
                    continue
                count += 1
    return newest, count


if __name__ == "__main__":  # pragma: no cover - started through relay.start_warm
    main(*sys.argv[1:4])
