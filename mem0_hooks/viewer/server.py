"""Running the viewer: a socket on 127.0.0.1 (the port asked for, else a free one), a secret per run,
uvicorn serving the app, and the browser opened where there is one to open.

Why starlette and uvicorn rather than ``http.server``: both come with the ``mcp`` dependency already,
and the stdlib server is documented as not for anything but development ("only implements basic
security checks"); uvicorn's HTTP parsing (h11) is the hardened kind, and starlette gives the form
parsing (with size limits) and routing that would otherwise be written here.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import time
from typing import Any, TextIO

DEFAULT_PORT = 7319
PORT_TRIES = 20  # ports tried from the one asked for before letting the system pick one
HOST = "127.0.0.1"  # never another address: the viewer shows conversation text


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1: on ``port``, else the next free one of ``PORT_TRIES``, else
    one the system picks (``port`` 0 asks for that at once)."""
    candidates = [port + n for n in range(PORT_TRIES) if port + n < 65536] if port else []
    for candidate in [*candidates, 0]:
        # IPPROTO_TCP said, not 0: asyncio turns Nagle off (TCP_NODELAY) only on a socket that says so,
        # and with Nagle on every answer on a kept-alive connection waits 40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            # (On Linux SO_REUSEADDR lets a port in TIME_WAIT be taken again, never one that listens.)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, candidate))
            sock.listen(64)
        except OSError:
            sock.close()
            continue
        sock.set_inheritable(True)
        return sock
    raise OSError("no port on 127.0.0.1 could be bound")


def can_open_browser() -> bool:
    """Whether there is a desktop to open a browser on (never in CI, nor on a headless machine, where
    ``webbrowser`` would start a text browser in this terminal)."""
    if os.environ.get("CI") or os.environ.get("MEM0_HOOKS_NO_BROWSER"):
        return False
    if sys.platform == "darwin" or os.name == "nt":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def serve(*, port: int = DEFAULT_PORT, open_browser: bool = True, out: TextIO | None = None) -> int:
    """Serve the viewer until Ctrl-C (or SIGTERM); prints its address (with this run's key) first."""
    import uvicorn

    from mem0_hooks.viewer.app import build_app

    out = out or sys.stdout
    token = secrets.token_urlsafe(32)
    sock = bind(port)
    actual = sock.getsockname()[1]
    app = build_app(token=token, port=actual, csrf=secrets.token_urlsafe(32))
    address = f"http://{HOST}:{actual}/?token={token}"
    if port and actual != port:
        print(f"port {port} is in use: the viewer is on {actual}", file=out)
    print(f"mem0-hooks viewer: {address}", file=out)
    print("Ctrl-C stops it. The address carries this run's key: anyone with it can read your memories.", file=out)
    out.flush()
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        http="h11",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    if open_browser and can_open_browser():
        threading.Thread(target=_open_when_up, args=(server, address), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def _open_when_up(server: Any, address: str) -> None:
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if server.started:
        import webbrowser

        try:
            webbrowser.open(address)
        except Exception:  # noqa: BLE001 - the address is printed; opening it is a convenience
            pass
