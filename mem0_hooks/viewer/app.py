"""The viewer as an ASGI app (starlette): the pages, the three forms, and the guard in front of them.

The guard (``Guard``) answers every request before any page code runs:

* the ``Host`` header must name this server (``127.0.0.1:<port>`` or ``localhost:<port>``): a page of
  another site that points a name of its own at 127.0.0.1 (DNS rebinding) gets nothing;
* the request must carry this run's secret: the ``token`` of the printed URL once (answered with a
  redirect that drops it from the address bar and sets it as an ``HttpOnly``, ``SameSite=Strict``
  cookie), then the cookie. Anything else is a 403 with one line and no data;
* a POST must also come from one of these pages: an ``Origin`` (and ``Sec-Fetch-Site``), when the
  browser sends them, of this server, and the form's ``csrf`` field, which only a page served here
  holds. A strict cookie is not sent with a request another site makes, so no page elsewhere can make
  this server forget a memory;
* only GET, HEAD and POST; no CORS header is ever sent (a cross-origin script cannot read an answer);
  every answer says ``Cache-Control: no-store`` and carries a Content-Security-Policy that allows no
  script at all, styles from this server only, no framing, and forms posting only here.

Page handlers run one at a time in a worker thread (the store is one connection), so a slow store
never holds up the guard's answers.
"""

from __future__ import annotations

import hmac
import sqlite3
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mem0_hooks.errors import BackendError, Mem0HooksError
from mem0_hooks.viewer import pages
from mem0_hooks.viewer.markup import Markup

PAGE_SIZE = 50
SESSIONS_PAGE = 30
RECORDS_PAGE = 20
SEARCH_LIMIT = 30
QUEUE_SHOWN = 50
MAX_BODY_BYTES = 64 * 1024

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # No address of ours goes to another site; "no-referrer" would also make the browser send
    # ``Origin: null`` with our own forms, which the origin check must then refuse.
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
DENIED = b"Forbidden: open the address `mem0-hooks ui` printed (it carries this run's key).\n"


def cookie_name(port: int) -> str:
    """One cookie per port: cookies are shared between the ports of a host, and two viewers may run."""
    return f"mem0_viewer_{port}"


class Guard:
    """ASGI middleware: host, token and origin checks in front of ``app`` (see the module docstring)."""

    def __init__(self, app: Any, *, token: str, port: int) -> None:
        self.app = app
        self.token = token.encode()
        self.port = port
        self.hosts = {f"127.0.0.1:{port}".encode(), f"localhost:{port}".encode()}
        self.cookie = cookie_name(port).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name.lower(), value)
        method = scope.get("method", "GET")
        if headers.get(b"host", b"") not in self.hosts:
            await _plain(send, 403, DENIED)
            return
        if method not in ("GET", "HEAD", "POST"):
            await _plain(send, 405, b"Method not allowed.\n", extra=[(b"allow", b"GET, HEAD, POST")])
            return
        query = scope.get("query_string") or b""
        given = _query_token(query)
        if given is not None:  # the printed address (again): set the cookie, and drop the key from the address
            if method == "GET" and hmac.compare_digest(given, self.token):
                await self._let_in(scope, query, send)
            else:
                await _plain(send, 403, DENIED)
            return
        if not self._cookie_ok(headers.get(b"cookie", b"")):
            await _plain(send, 403, DENIED)
            return
        if method == "POST" and not self._same_origin(headers):
            await _plain(send, 403, b"Forbidden: a form of another site.\n")
            return
        if method == "POST" and not _small(headers.get(b"content-length")):
            await _plain(send, 413, b"Too large (or no length given).\n")
            return

        async def send_secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *SECURITY_HEADERS])
            await send(message)

        await self.app(scope, receive, send_secured)

    def _cookie_ok(self, header: bytes) -> bool:
        for part in header.split(b";"):
            name, _, value = part.strip().partition(b"=")
            if name == self.cookie and hmac.compare_digest(value.strip(b'"'), self.token):
                return True
        return False

    def _same_origin(self, headers: dict[bytes, bytes]) -> bool:
        origin = headers.get(b"origin")
        if origin is not None and origin not in (b"http://" + h for h in self.hosts):
            return False
        site = headers.get(b"sec-fetch-site")
        return site is None or site in (b"same-origin", b"none")

    async def _let_in(self, scope: dict[str, Any], query: bytes, send: Any) -> None:
        """The printed URL's token, once: set it as the cookie and go to the same page without it."""
        rest = [(k, v) for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if k != "token"]
        location = safe_back(scope.get("path") or "/") + (("?" + urlencode(rest)) if rest else "")
        cookie = self.cookie + b"=" + self.token + b"; Path=/; HttpOnly; SameSite=Strict"
        await _plain(
            send,
            303,
            b"",
            extra=[(b"location", location.encode("latin-1", "replace")), (b"set-cookie", cookie)],
        )


def _small(length: bytes | None) -> bool:
    """A form body of a known, small size (the forms here hold a note at most)."""
    try:
        return length is not None and 0 <= int(length) <= MAX_BODY_BYTES
    except ValueError:
        return False


def _query_token(query: bytes) -> bytes | None:
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key == "token":
            return value.encode("latin-1", "replace")
    return None


async def _plain(send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or []) + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


# -- pages ---------------------------------------------------------------------------------------------
STORE_ERRORS = (BackendError, sqlite3.Error, OSError)


def store_banner(exc: BaseException, config: dict[str, Any] | None) -> str:
    """What a person is told when the store cannot answer: what happened, and that the rest still works."""
    backend = (config or {}).get("backend", "memory")
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if backend == "local" and ("database is locked" in reason or "database is busy" in reason):
        return (
            f"The local store is locked by another program ({reason}): a long write, or a sqlite3 shell left open. "
            "Its memories cannot be shown right now; the queue and the record of injections below still can. "
            "Reload in a moment; `mem0-hooks doctor` checks the store."
        )
    if backend == "local":
        return f"The local store cannot be read: {reason}. `mem0-hooks doctor` checks it and says what to fix."
    return (
        f"The {backend} store does not answer: {reason}. Captured turns wait in the local queue and are delivered "
        "once it is back; `mem0-hooks doctor` checks the connection."
    )


class Page:
    """What one page request has: the config, the store (through ``read``), and the banners."""

    def __init__(self, viewer: Viewer, request: Request) -> None:
        self.viewer = viewer
        self.request = request
        self.problems: list[str] = []
        self.notices: list[str] = []
        params = request.query_params
        if params.get("done"):
            self.notices.append(params["done"])
        if params.get("failed"):
            self.problems.append(params["failed"])
        self.config: dict[str, Any] | None = None
        try:
            from mem0_hooks import config as config_mod

            self.config = config_mod.load()
        except Mem0HooksError as exc:
            self.problems.append(f"mem0-hooks is misconfigured: {exc} (`mem0-hooks doctor` says what to fix)")
        self._store_failed = False

    def read(self, what: Callable[[Any], Any], default: Any) -> Any:
        """``what(view)``, or ``default`` and a banner when the store cannot answer (once per page)."""
        if self.config is None or self._store_failed:
            return default
        try:
            return what(self.viewer.view(self.config))
        except STORE_ERRORS as exc:
            self._store_failed = True
            self.problems.append(store_banner(exc, self.config))
            self.viewer.drop_view()
            return default

    @property
    def back(self) -> str:
        """This page's address without its messages: where a form on it comes back to."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k not in ("done", "failed")]
        return self.request.url.path + ("?" + urlencode(params) if params else "")

    def store_line(self) -> str:
        if self.config is None:
            return ""
        count = self.read(lambda v: v.count(), None) if not self._store_failed else None
        name = f"{self.config['backend']} store"
        return f"{name} \u00b7 {pages.plural(count, 'memory')}" if isinstance(count, int) else name


class Viewer:
    """The app's state: the secret's CSRF twin, the store (kept open), the record's parsed cache."""

    def __init__(self, *, csrf: str) -> None:
        self.csrf = csrf
        self.lock = threading.Lock()
        self._view: tuple[str, Any] | None = None
        self._records: tuple[Any, list[dict[str, Any]]] | None = None

    def view(self, config: dict[str, Any]) -> Any:
        import json

        from mem0_hooks.viewer.store_view import open_view

        key = json.dumps([config["backend"], config["user_id"], config["mem0"]], sort_keys=True, default=str)
        if self._view is None or self._view[0] != key:
            self.drop_view()
            self._view = (key, open_view(config))
        return self._view[1]

    def drop_view(self) -> None:
        """Close the store after a failure: the next page opens it again."""
        if self._view is not None:
            try:
                self._view[1].close()
            except Exception:  # noqa: BLE001 - closing a broken store is best effort
                pass
            self._view = None

    def records(self) -> list[dict[str, Any]]:
        """The record of injections, newest first (parsed again only when the files changed)."""
        from mem0_hooks import injections

        stamp = injections.stamp()
        if self._records is None or self._records[0] != stamp:
            self._records = (stamp, injections.read())
        return self._records[1]

    # -- running a page -------------------------------------------------------------------------------
    async def page(self, request: Request, active: str, title: str, build: Callable[[Page], Markup]) -> Response:
        def run() -> str:
            with self.lock:
                page = Page(self, request)
                try:
                    body = build(page)
                except Exception as exc:  # noqa: BLE001 - one line for the person, the details in the log
                    from mem0_hooks.log import log_exception

                    log_exception(f"viewer {request.url.path}", exc)
                    page.problems.append(
                        f"Something went wrong on this page ({type(exc).__name__}); the details are in mem0-hooks.log."
                    )
                    body = Markup("")
                store = page.store_line()
                return pages.layout(
                    title, body, active=active, store=store, notices=page.notices, problems=page.problems
                )

        return HTMLResponse(await run_in_threadpool(run))

    async def action(self, request: Request, do: Callable[[Page, dict[str, str]], str]) -> Response:
        """A form's POST: check its CSRF field, do it, and go back to the page it came from with the outcome."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not hmac.compare_digest(form.get("csrf", "").encode(), self.csrf.encode()):
            return Response(
                b"Forbidden: the form is not one of this viewer's pages.\n", status_code=403, media_type="text/plain"
            )
        back = safe_back(form.get("back") or request.headers.get("x-back") or "/")

        def run() -> tuple[str, str]:
            with self.lock:
                page = Page(self, request)
                try:
                    return "done", do(page, form)
                except Exception as exc:  # noqa: BLE001 - the outcome is shown on the page, in one line
                    return "failed", action_failure(exc, page.config)

        key, message = await run_in_threadpool(run)
        return RedirectResponse(with_message(back, key, message), status_code=303)


def safe_back(back: str) -> str:
    """A path of this server to go back to (never another site's address)."""
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        return "/"
    return back


def with_message(back: str, key: str, message: str) -> str:
    parts = urlsplit(back)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("done", "failed")]
    params.append((key, message))
    return f"{parts.path}?{urlencode(params)}"


def action_failure(exc: BaseException, config: dict[str, Any] | None) -> str:
    from mem0_hooks.cli._common import FatalError
    from mem0_hooks.memory_tools import ToolFailed

    if isinstance(exc, (ToolFailed, FatalError)):
        return str(exc)
    if isinstance(exc, STORE_ERRORS):
        return store_banner(exc, config)
    from mem0_hooks.log import log_exception

    log_exception("viewer action", exc)
    return f"Something went wrong ({type(exc).__name__}); the details are in mem0-hooks.log."


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(int(value or default), 1)
    except ValueError:
        return default


def build_app(*, token: str, port: int, csrf: str) -> Any:
    """The viewer for one run: its pages behind the guard for ``token`` on ``port``."""
    viewer = Viewer(csrf=csrf)

    async def projects(request: Request) -> Response:
        def build(page: Page) -> Markup:
            from mem0_hooks import queue

            found = page.read(lambda v: v.projects(), [])
            line = f"{queue.depth():,} queued, {queue.depth(queue.DEAD):,} dead-lettered"
            return pages.projects_page(found, viewer.records()[:5], line)

        return await viewer.page(request, "/", "Projects", build)

    async def project(request: Request) -> Response:
        path = request.query_params.get("path", "")
        number = _int(request.query_params.get("page"))

        def build(page: Page) -> Markup:
            counts = page.read(lambda v: v.project_counts(path), (0, 0))
            found, more = page.read(
                lambda v: v.sessions(path, offset=(number - 1) * SESSIONS_PAGE, limit=SESSIONS_PAGE), ([], False)
            )
            notes = page.read(lambda v: v.notes(path, 20), [])
            return pages.project_page(path, counts, found, number, more, notes, viewer.csrf, page.back)

        return await viewer.page(request, "/", pages.project_name(path), build)

    async def session(request: Request) -> Response:
        session_id = request.query_params.get("id", "")

        def build(page: Page) -> Markup:
            turns = page.read(lambda v: v.session_turns(session_id), [])
            records = [r for r in viewer.records() if r.get("session") == session_id][:RECORDS_PAGE]
            ids = [m[0] for r in records for m in r.get("memories") or []]
            texts = page.read(lambda v: v.by_ids(ids), None)
            looked_up = texts is not None and page.config is not None and page.config["backend"] == "local"
            return pages.session_page(session_id, turns, records, texts or {}, looked_up, viewer.csrf, page.back)

        return await viewer.page(request, "/", f"Session {session_id[:8]}", build)

    async def memories(request: Request) -> Response:
        if "project" not in request.query_params:
            return RedirectResponse("/", status_code=303)
        path = request.query_params["project"]
        number = _int(request.query_params.get("page"))

        def build(page: Page) -> Markup:
            found, more = page.read(
                lambda v: v.memories(path, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE), ([], False)
            )
            return pages.memories_page(path, found, number, more, viewer.csrf, page.back)

        return await viewer.page(request, "/", f"Memories of {pages.project_name(path)}", build)

    async def search(request: Request) -> Response:
        query = request.query_params.get("q", "")

        def build(page: Page) -> Markup:
            names = [p["project"] for p in page.read(lambda v: v.projects(), [])]
            chosen = request.query_params.get("project")
            if chosen is None:
                chosen = names[0] if names else ""
            if chosen not in names:
                names.insert(0, chosen)
            found = None
            config = page.config
            if query.strip() and config is not None:

                def ranked(view: Any) -> list[Any]:
                    from mem0_hooks import recall

                    return recall.search(query, project=chosen, config=config, limit=SEARCH_LIMIT)

                found = page.read(ranked, [])
            return pages.search_page(names, chosen, query, found, viewer.csrf, page.back)

        return await viewer.page(request, "/search", "Search", build)

    async def injections_page(request: Request) -> Response:
        number = _int(request.query_params.get("page"))
        session_id = request.query_params.get("session") or None
        path = request.query_params.get("project")

        def build(page: Page) -> Markup:
            records = [
                r
                for r in viewer.records()
                if (session_id is None or r.get("session") == session_id) and (path is None or r.get("project") == path)
            ]
            shown = records[(number - 1) * RECORDS_PAGE : number * RECORDS_PAGE]
            ids = [m[0] for r in shown for m in r.get("memories") or [] if isinstance(m, list) and m]
            texts = page.read(lambda v: v.by_ids(ids), None)
            looked_up = texts is not None and page.config is not None and page.config["backend"] == "local"
            enabled = bool(page.config is None or page.config["memory"]["record_injections"])
            more = len(records) > number * RECORDS_PAGE
            return pages.injections_page(shown, texts or {}, looked_up, number, more, session_id, path, enabled)

        return await viewer.page(request, "/injections", "Injections", build)

    async def queue_page(request: Request) -> Response:
        def build(page: Page) -> Markup:
            from mem0_hooks import flush, queue

            names = queue.names()
            items = []
            for name in names[:QUEUE_SHOWN]:
                try:
                    items.append(dict(queue.read(name), name=name))
                except FileNotFoundError:
                    continue  # delivered meanwhile
                except Mem0HooksError as exc:
                    items.append({"name": name, "last_error": str(exc)})
            return pages.queue_page(len(names), items, queue.dead_items(), flush.read_status(), viewer.csrf)

        return await viewer.page(request, "/queue", "Queue", build)

    async def css(request: Request) -> Response:
        return Response(pages.CSS, media_type="text/css")

    async def forget(request: Request) -> Response:
        def do(page: Page, form: dict[str, str]) -> str:
            from mem0_hooks.memory_tools import delete_memories

            assert page.config is not None
            view = viewer.view(page.config)
            memory_id = form.get("id", "")
            delete_memories([memory_id], project=form.get("project", ""), store=view.store)
            view.changed()
            return f"Forgot memory {memory_id[:12]}."

        return await viewer.action(request, do)

    async def add(request: Request) -> Response:
        def do(page: Page, form: dict[str, str]) -> str:
            from mem0_hooks import memory_tools

            assert page.config is not None
            user_wide = form.get("user_wide") == "1"
            where = form.get("project", "")
            if not user_wide:
                if not where.strip():
                    raise memory_tools.ToolFailed("say which project the note is for, or tick 'in every project'")
                memory_tools.check_project(where, page.config)
            answer = memory_tools.add_memories(
                form.get("text", ""), project=where, config=page.config, user_wide=user_wide
            )
            viewer.view(page.config).changed()
            if answer["status"] == "stored":
                return f"Remembered {answer['id'][:12]}."
            return f"Queued {answer['id'][:12]}: {answer.get('note', '')}"

        return await viewer.action(request, do)

    async def replay(request: Request) -> Response:
        def do(page: Page, form: dict[str, str]) -> str:
            from mem0_hooks import queue
            from mem0_hooks.cli.replay import drain_now

            assert page.config is not None
            dead = form.get("dead") == "1"
            result = drain_now(page.config, quiet=True, revive=dead)
            viewer.view(page.config).changed()
            left = queue.depth()
            text = (
                f"Delivered {result.delivered}, already stored {result.duplicates}, dead-lettered {result.dead}, "
                f"kept for retry {result.retried}; {left} still queued."
            )
            if result.stopped == "unavailable" and result.errors:
                text += f" The store is unavailable: {result.errors[-1]}"
            return text

        return await viewer.action(request, do)

    routes = [
        Route("/", projects, methods=["GET", "HEAD"]),
        Route("/project", project, methods=["GET", "HEAD"]),
        Route("/session", session, methods=["GET", "HEAD"]),
        Route("/memories", memories, methods=["GET", "HEAD"]),
        Route("/search", search, methods=["GET", "HEAD"]),
        Route("/injections", injections_page, methods=["GET", "HEAD"]),
        Route("/queue", queue_page, methods=["GET", "HEAD"]),
        Route("/viewer.css", css, methods=["GET", "HEAD"]),
        Route("/forget", forget, methods=["POST"]),
        Route("/add", add, methods=["POST"]),
        Route("/replay", replay, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.viewer = viewer
    return Guard(app, token=token, port=port)
