"""HTTP plumbing shared by the remote backends: one client factory, one request function, one error mapping.

Every failure a remote store can produce leaves this module as a ``BackendError`` (``error_for``):

    connection refused, DNS, TLS, timeout, dropped       BackendUnavailable  "is the server running at URL?"
    400 / 422 (and any other 4xx not listed)             BackendRejected     the server's own message
    401 / 403                                            BackendRejected     a hint about the API key (never the key)
    404                                                  BackendRejected     a hint the caller chooses
    409 / 413 / 3xx                                      BackendRejected     conflict / quota / redirected
    408 / 429 / 5xx                                      BackendUnavailable  retry_after from Retry-After; a 502's
                                                                             ``code`` (provider_unavailable, …) shown
    2xx whose body is ``{"error": …}`` (OpenMemory)      BackendUnavailable  the store's LLM or vector store failed
    2xx that is not JSON where JSON was expected         BackendUnavailable

The server's message is taken from ``detail``, ``details.message``, ``message`` or ``error`` (whichever
the body has; pydantic error lists are flattened), shortened, and scrubbed of the API key, which
therefore never appears in an exception's text or repr.

Time: every request has explicit connect/read/write/pool timeouts. With a ``deadline`` (a
``time.monotonic()`` value) the timeouts shrink to the time left and the body is read in chunks that
stop at the deadline; ``run_bounded`` adds a hard wall for the hot path, because DNS resolution is
not covered by any socket timeout.
"""

from __future__ import annotations

import email.utils
import functools
import json
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from mem0_hooks import __version__, breaker
from mem0_hooks.backends.base import Memory, MemoryItem
from mem0_hooks.errors import BackendError, BackendRejected, BackendUnavailable

USER_AGENT = f"mem0-hooks/{__version__}"
CONNECT_TIMEOUT = 5.0  # a server that takes longer to accept a connection is down for our purposes
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_MESSAGE = 300
GRACE = 0.25  # how long run_bounded waits past the deadline for the request's own, more precise, error
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}

T = TypeVar("T")
B = TypeVar("B", bound="HttpBackend")


# -- client ----------------------------------------------------------------------------------------
def timeouts(seconds: float) -> httpx.Timeout:
    """Explicit connect/read/write/pool timeouts for one request of at most ``seconds`` per phase."""
    seconds = max(0.01, seconds)
    return httpx.Timeout(connect=min(CONNECT_TIMEOUT, seconds), read=seconds, write=seconds, pool=seconds)


def make_client(base_url: str, *, headers: Mapping[str, str] | None = None, timeout: float) -> httpx.Client:
    """An httpx client for one store: JSON, no redirects followed, explicit timeouts.

    Proxy variables are honoured except for loopback servers (a corporate proxy cannot reach them).
    TLS certificates are verified for every https URL.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        timeout=timeouts(timeout),
        follow_redirects=False,
        trust_env=host not in _LOOPBACK,
        # Loading the CA bundle costs 20-45 ms per client, paid by every hook. A plain-http store never
        # uses it (no TLS, and redirects to https are not followed), so it is only loaded for https.
        verify=parts.scheme == "https",
    )


def public_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass
class Reply:
    """A response read to the end: status, headers and body bytes."""

    status: int
    headers: httpx.Headers
    content: bytes
    method: str
    path: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The parsed body (``None`` for an empty one); ``ValueError`` when it is not JSON."""
        if not self.content.strip():
            return None
        return json.loads(self.content)


def _close_quietly(client: httpx.Client) -> None:
    try:
        client.close()
    except Exception:  # noqa: BLE001 - closing at collection or exit time
        pass


class _DeadlinePassed(Exception):
    pass


class Api:
    """One store's HTTP endpoint: base URL, auth headers, a name and hints for messages."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float,
        secrets: tuple[str | None, ...] = (),
        hints: Mapping[int | str, str] | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.display_url = public_url(self.base_url)
        self.timeout = timeout
        self.hints: dict[int | str, str] = dict(hints or {})
        self._headers = dict(headers or {})
        self._secrets = tuple(s for s in secrets if s and len(s) >= 4)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Api {self.service} {self.display_url}>"

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.base_url, headers=self._headers, timeout=self.timeout)
                # An Api dropped without close() (often inside an exception's reference cycle) closes its
                # sockets here: weakref callbacks run before the sockets' own finalizers would warn.
                self._finalizer = weakref.finalize(self, _close_quietly, self._client)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._finalizer()
                self._client = None

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        hints: Mapping[int | str, str] | None = None,
    ) -> Reply:
        """Send one request and read the whole answer; any failure is raised as a ``BackendError``."""
        budget = self.timeout
        if deadline is not None:
            budget = min(budget, deadline - time.monotonic())
            if budget <= 0:
                raise self.error(method, path, exc=_DeadlinePassed(), budget=0.0, hints=hints)
        try:
            with self.client.stream(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None} or None,
                json=json,
                headers=headers,
                timeout=timeouts(budget),
            ) as response:
                content = b"".join(_read_until(response, deadline))
                reply = Reply(response.status_code, response.headers, content, method, path)
        except (httpx.HTTPError, httpx.InvalidURL, _DeadlinePassed) as exc:
            raise self.error(method, path, exc=exc, budget=budget, hints=hints) from exc
        failure = self.error(method, path, reply=reply, hints=hints)
        if failure is not None:
            raise failure
        return reply

    def call_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``call`` and parse the JSON body (a body that is not JSON is a ``BackendUnavailable``)."""
        reply = self.call(method, path, **kwargs)
        try:
            return reply.json()
        except ValueError:
            raise self.error(method, path, reply=reply, not_json=True) from None

    def error(self, method: str, path: str, **kwargs: Any) -> Any:
        hints = {**self.hints, **(kwargs.pop("hints", None) or {})}
        return error_for(
            self.service, self.display_url, method=method, path=path, hints=hints, secrets=self._secrets, **kwargs
        )


def _read_until(response: httpx.Response, deadline: float | None) -> Iterator[bytes]:
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise httpx.DecodingError(f"response larger than {MAX_BODY_BYTES} bytes")
        yield chunk
        if deadline is not None and time.monotonic() > deadline:
            raise _DeadlinePassed()


# -- the one error mapping -------------------------------------------------------------------------
_PROVIDER_HINTS = {
    "provider_auth_failed": "the server's LLM or embedder provider refused its key: check the server's provider keys",
    "provider_rate_limited": "the server's LLM or embedder provider is rate-limiting it",
    "provider_timeout": "the server's LLM or embedder provider timed out",
    "provider_unavailable": "the server's LLM or embedder provider is unreachable or failing",
    "provider_bad_request": "the server's LLM or embedder provider rejected the request",
    "datastore_unavailable": "the server cannot reach its database",
    "vector_store_unavailable": "the server cannot reach its vector store",
}


def error_for(
    service: str,
    url: str,
    *,
    method: str = "",
    path: str = "",
    reply: Reply | None = None,
    exc: BaseException | None = None,
    budget: float | None = None,
    hints: Mapping[int | str, str] | None = None,
    secrets: tuple[str, ...] = (),
    not_json: bool = False,
) -> BackendError | None:
    """The ``BackendError`` for a failed exchange, or ``None`` when ``reply`` is a success.

    ``not_json`` says the caller needed JSON and the 2xx body was not. A transport failure that never
    reached the server (refused, DNS, connect timeout) has ``connect_failed = True``.
    ``hints`` maps a status (or ``"auth"``, ``"transport"``) to the advice shown after the message.
    """
    hints = hints or {}
    where = f"{method} {path}".strip()
    if exc is not None:
        return _transport_error(service, url, where, exc, budget, hints, secrets)
    assert reply is not None
    status = reply.status
    body: Any = None
    parsed = True
    try:
        body = reply.json()
    except ValueError:
        parsed = False
    message = _scrub(server_message(body) if parsed else _text_snippet(reply), secrets)

    if 200 <= status < 300:
        if isinstance(body, dict) and "error" in body and len(body) == 1:
            return BackendUnavailable(
                f"{service} failed to process {where}",
                status=status,
                server_message=message,
                hint=hints.get("error_body", "the store's LLM or vector store failed; the item stays queued"),
            )
        if not_json:
            return BackendUnavailable(
                f"{service} answered {where} with something that is not JSON",
                status=status,
                server_message=message,
                hint=f"is {url} really the {service}? check mem0.base_url",
            )
        return None

    def hint_for(code: int | str, default: str | None) -> str | None:
        return hints.get(code, default)

    if 300 <= status < 400:
        location = _scrub(reply.headers.get("location", ""), secrets)
        return BackendRejected(
            f"{service} redirected {where} to {location or '(nowhere)'}",
            status=status,
            server_message=message,
            hint=hint_for(status, f"check mem0.base_url ({url}): scheme, host and path prefix"),
        )
    if status in (401, 403):
        what = "refused the credentials for" if status == 401 else "denied access to"
        return BackendRejected(
            f"{service} {what} {where}",
            status=status,
            server_message=message,
            hint=hint_for(
                status, hints.get("auth", "check the API key: MEM0_API_KEY, the api_key file, or mem0.api_key")
            ),
        )
    if status == 404:
        return BackendRejected(
            f"{service} has no {path or 'such resource'}",
            status=status,
            server_message=message,
            hint=hint_for(404, f"check mem0.base_url ({url})"),
        )
    if status == 409:
        return BackendRejected(
            f"{service} reported a conflict on {where}", status=status, server_message=message, hint=hint_for(409, None)
        )
    if status == 413:
        return BackendRejected(
            f"{service} refused {where}: quota exceeded or request too large",
            status=status,
            server_message=message,
            hint=hint_for(413, "the account's memory quota may be used up; delete memories or upgrade the plan"),
        )
    if status == 429 or status == 408 or status >= 500:
        wait = retry_after(reply.headers)
        code = body.get("code") if isinstance(body, dict) and isinstance(body.get("code"), str) else None
        if status == 429:
            text = f"{service} is rate-limiting requests ({where})"
            default = f"retrying after {wait:.0f}s" if wait else "retrying later"
        elif status == 408:
            text = f"{service} timed out handling {where}"
            default = "retrying later"
        else:
            text = f"{service} failed on {where}"
            default = _PROVIDER_HINTS.get(code or "", f"the server at {url} is failing; retrying later")
        if code:
            text += f" [{code}]"
        return BackendUnavailable(
            text, status=status, server_message=message, hint=hint_for(status, default), retry_after=wait
        )
    return BackendRejected(
        f"{service} rejected {where} as invalid" if status in (400, 422) else f"{service} refused {where}",
        status=status,
        server_message=message,
        hint=hint_for(status, None),
    )


def _transport_error(
    service: str,
    url: str,
    where: str,
    exc: BaseException,
    budget: float | None,
    hints: Mapping[int | str, str],
    secrets: tuple[str, ...],
) -> BackendError:
    hint = hints.get("transport", f"is the server running at {url}?")
    detail = _scrub(str(exc), secrets) or ""
    low = detail.lower()
    seconds = f"{budget:.1f}s" if budget is not None else "the time limit"
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return BackendRejected(f"{service} URL {url} is not usable: {detail}", hint="fix mem0.base_url")
    if isinstance(exc, _DeadlinePassed):
        if not budget:
            return BackendUnavailable(f"no time left to ask {service} at {url} ({where}): the deadline has passed")
        return BackendUnavailable(f"{service} at {url} did not answer within {seconds} ({where})", hint=hint)
    if isinstance(exc, httpx.ConnectTimeout):
        error = BackendUnavailable(f"cannot connect to {service} at {url}: no answer within {seconds}", hint=hint)
        error.connect_failed = True  # type: ignore[attr-defined]
        return error
    if isinstance(exc, httpx.TimeoutException):
        return BackendUnavailable(f"{service} at {url} did not answer within {seconds} ({where})", hint=hint)
    if isinstance(exc, httpx.ConnectError):
        if "refused" in low or "errno 111" in low or "errno 61" in low:
            reason = "connection refused"
        elif any(s in low for s in ("name or service", "nodename", "name resolution", "getaddrinfo", "no address")):
            reason = f"cannot resolve the host name {urlsplit(url).hostname!r}"
        elif "ssl" in low or "certificate" in low or "tls" in low:
            reason = f"TLS handshake failed ({detail})"
            hint = hints.get("tls", "check the system's CA certificates, or the scheme in mem0.base_url")
        else:
            reason = detail or type(exc).__name__
        error = BackendUnavailable(f"cannot connect to {service} at {url}: {reason}", hint=hint)
        error.connect_failed = True  # type: ignore[attr-defined]
        return error
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return BackendUnavailable(f"{service} at {url} dropped the connection during {where}", hint=hint)
    return BackendUnavailable(f"{service} at {url} failed during {where}: {detail or type(exc).__name__}", hint=hint)


def server_message(body: Any) -> str | None:
    """The human part of an error body: ``detail`` / ``details.message`` / ``message`` / ``error``."""
    text: str | None = None
    if isinstance(body, dict):
        details = body.get("details")
        for candidate in (
            body.get("detail"),
            details.get("message") if isinstance(details, dict) else details,
            body.get("message"),
            body.get("error"),
        ):
            text = _flatten(candidate)
            if text:
                break
        extra = [f"request id {body['request_id']}"] if isinstance(body.get("request_id"), str) else []
        if text and extra:
            text += f" ({', '.join(extra)})"
    else:
        text = _flatten(body)
    return shorten(text) if text else None


def _flatten(value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for entry in value:
            if isinstance(entry, dict) and "msg" in entry:  # pydantic / FastAPI 422 list
                loc = ".".join(str(p) for p in entry.get("loc", ()) if p != "body")
                parts.append(f"{loc}: {entry['msg']}" if loc else str(entry["msg"]))
            else:
                parts.append(_flatten(entry) or "")
        return "; ".join(p for p in parts if p) or None
    if isinstance(value, dict):
        return _flatten(value.get("message") or value.get("msg")) or json.dumps(value)[:MAX_MESSAGE]
    return str(value)


def _text_snippet(reply: Reply) -> str | None:
    if not reply.content.strip() or reply.content_type == "text/html":
        return None
    return shorten(reply.text())


def shorten(text: str) -> str:
    """``text`` on one line, at most ``MAX_MESSAGE`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _scrub(text: str | None, secrets: tuple[str, ...]) -> str | None:
    if not text:
        return text
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text


def retry_after(headers: httpx.Headers | Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), else ``X-RateLimit-Reset``."""
    value = (headers.get("retry-after") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if reset:
        try:
            number = float(reset)
        except ValueError:
            return None
        # Either an epoch time or a number of seconds; an epoch is far larger than any sane wait.
        return max(0.0, number - time.time()) if number > 1_000_000_000 else max(0.0, number)
    return None


# -- deadlines -------------------------------------------------------------------------------------
def run_bounded(fn: Callable[[], T], deadline: float | None, *, service: str, url: str) -> T:
    """``fn()``, but give up at ``deadline`` (+ a short grace) even if it is stuck (DNS, a dripping body).

    The abandoned call runs on in a daemon thread until its own timeouts end it; a hook exits soon
    after anyway. Without a deadline ``fn`` runs in the calling thread.
    """
    if deadline is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="mem0-hooks-bounded", daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(max(0.0, deadline - start) + GRACE)
    if thread.is_alive():
        waited = time.monotonic() - start
        raise BackendUnavailable(
            f"{service} at {url} did not answer within {waited:.1f}s (recall deadline)",
            hint=f"is the server running at {url}? recall skips it until it answers in time",
        )
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


# -- what the three remote backends share ----------------------------------------------------------
class HttpBackend:
    """Identity, deadlines, the circuit breaker and the already-stored check of a remote store.

    Subclasses set ``name``, ``service``, ``default_url``, build ``self.api`` and implement
    ``_scan(session_id)`` (every memory of this user, optionally of one session).
    """

    name = "remote"
    service = "Mem0"
    default_url = ""
    STORED_IDS_TTL = 60.0

    api: Api

    def __init__(self, config: dict[str, Any], *, for_recall: bool = False) -> None:
        mem0 = config.get("mem0") or {}
        self.config = config
        self.for_recall = for_recall
        self.user_id = str(config.get("user_id") or "default")
        self.agent_id = str(mem0.get("agent_id") or "claude-code")
        self.infer = bool(mem0.get("infer", True))
        self.base_url = str(mem0.get("base_url") or self.default_url).rstrip("/")
        self.recall_timeout = float(mem0.get("recall_timeout_seconds") or 1.5)
        self.write_timeout = float(mem0.get("write_timeout_seconds") or 20.0)
        cooldown = mem0.get("breaker_cooldown_seconds")
        self.cooldown = 60.0 if cooldown is None else float(cooldown)
        self.retention_days = (config.get("privacy") or {}).get("auto_delete_after_days")
        self._stored_ids: dict[str, tuple[float, set[str]]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {public_url(self.base_url)} user_id={self.user_id!r}>"

    def close(self) -> None:
        """Release the HTTP connections."""
        api = getattr(self, "api", None)
        if api is not None:
            api.close()

    def __enter__(self: B) -> B:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- time --------------------------------------------------------------------------------------
    def _deadline(self, deadline: float | None) -> float | None:
        """The effective deadline: recall is always bounded by ``recall_timeout_seconds``."""
        if not self.for_recall:
            return deadline
        own = time.monotonic() + self.recall_timeout
        return own if deadline is None else min(deadline, own)

    def _delete_one(self, path: str) -> bool:
        """``DELETE path``: True when deleted, False when the store had no such memory (404)."""

        def run() -> bool:
            try:
                self.api.call("DELETE", path)
            except BackendRejected as exc:
                if exc.status == 404:
                    return False
                raise
            return True

        return self._guarded(run)

    def _guarded(self, fn: Callable[[], T], *, deadline: float | None = None, check_breaker: bool | None = None) -> T:
        """Run ``fn`` under the breaker: skip when open (recall), record the outcome either way."""
        if check_breaker is None:
            check_breaker = self.for_recall
        if check_breaker and breaker.is_open(self.name):
            state = breaker.status(self.name)
            raise BackendUnavailable(
                f"{self.service} skipped: it failed {state['failures']} time(s) recently, "
                f"next try in {state['seconds_left']:.0f}s",
                server_message=state["last_failure"],
                hint="`mem0-hooks status` shows the breaker; it closes by itself",
            )
        try:
            result = run_bounded(fn, deadline, service=self.service, url=public_url(self.base_url))
        except BackendUnavailable as exc:
            breaker.record_failure(self.name, str(exc), self.cooldown, retry_after=exc.retry_after)
            raise
        except BackendRejected as exc:
            if exc.status in (401, 403):  # a bad key fails every prompt the same way: stop asking
                breaker.record_failure(self.name, str(exc), self.cooldown)
            raise
        breaker.record_success(self.name)
        return result

    # -- capture -----------------------------------------------------------------------------------
    # Whether ``add_batch`` may send several turns of one session in one request (see ``batch_metadata``).
    takes_batches = False

    def add_batch(self, items: list[MemoryItem]) -> None:
        """Several items of one session in one request (``takes_batches`` stores, ``queue.batch_operations``)."""
        self._guarded(functools.partial(self._add_batch, items))
        for item in items:
            self._remember_delivered(item)

    def _add_batch(self, items: list[MemoryItem]) -> None:
        raise NotImplementedError

    def add(self, items: list[MemoryItem]) -> None:
        """One request per item (per-item metadata kept; ``add_batch`` is the flusher's batch).

        On failure the error carries ``delivered_ids``: the items of this call sent before it failed.
        """
        delivered: list[str] = []
        for item in items:
            try:
                self._guarded(functools.partial(self._add_one, item))
            except BackendError as exc:
                exc.delivered_ids = list(delivered)  # type: ignore[attr-defined]
                raise
            delivered.append(item.id)
            self._remember_delivered(item)

    def _add_one(self, item: MemoryItem) -> None:
        raise NotImplementedError

    # -- exactly-once support ----------------------------------------------------------------------
    def already_stored(self, item_id: str, *, session_id: str | None = None) -> bool:
        """Best effort: whether a memory carrying ``metadata.mem0_hooks_id == item_id`` exists.

        The flusher asks only for items it may have delivered before a crash. ``session_id`` narrows
        the scan to one session; without it the user's memories are scanned once and cached briefly.
        """
        key = session_id or "*"
        now = time.monotonic()
        cached = self._stored_ids.get(key)
        if cached is None or now - cached[0] > self.STORED_IDS_TTL:
            ids = {
                str(found)
                for m in self._guarded(lambda: list(self._scan(session_id)), check_breaker=False)
                for found in [m.metadata.get("mem0_hooks_id"), *_id_list(m.metadata.get("mem0_hooks_ids"))]
                if found
            }
            cached = (now, ids)
            self._stored_ids[key] = cached
        return item_id in cached[1]

    def _scan(self, session_id: str | None) -> Iterator[Memory]:
        raise NotImplementedError

    def carrying(self, item_id: str, *, session_id: str | None = None) -> list[str]:
        """The ids of the memories that carry ``item_id`` (the turn stored whole, or facts Mem0 made of
        it), looked for among ``session_id``'s when given: what forgetting that turn must forget here."""

        def run() -> list[str]:
            found = []
            for memory in self._scan(session_id):
                md = memory.metadata
                if md.get("mem0_hooks_id") == item_id or item_id in _id_list(md.get("mem0_hooks_ids")):
                    found.append(memory.id)
            return found

        return self._guarded(run)

    def get(self, memory_id: str) -> Memory | None:
        """One memory by this store's id, with its metadata; None when there is none."""
        raise NotImplementedError

    def _ours(self, memory: Memory) -> bool:
        """Written by mem0-hooks for this user (the only memories ``delete_all`` may touch)."""
        md = memory.metadata
        return bool(md.get("mem0_hooks_id")) and str(md.get("user_id") or self.user_id) == self.user_id

    def _remember_delivered(self, item: MemoryItem) -> None:
        for _, ids in self._stored_ids.values():
            ids.add(item.id)


# -- records ---------------------------------------------------------------------------------------
def item_metadata(item: MemoryItem, *, user_id: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metadata every store keeps with an item: where it came from and its stable id."""
    md: dict[str, Any] = dict(item.metadata or {})
    md.update(
        project=item.project,
        scope=item.scope,
        role=item.role,
        mem0_hooks_role=item.role,  # the mem0 server replaces ``role`` with the message's ("note" -> "user")
        created_at=item.created_at,
        mem0_hooks_id=item.id,
        user_id=user_id,
        seq=item.seq,
        **(extra or {}),
    )
    return md


def batch_metadata(items: list[MemoryItem], *, user_id: str) -> dict[str, Any]:
    """The metadata of one add request carrying several turns of a session: the last turn's (its time),
    every item id in ``mem0_hooks_ids`` (``already_stored`` looks there too), and a role only when they
    share one. Mem0 extracts facts from the exchange as a whole, so no fact belongs to one turn."""
    if len(items) == 1:
        return item_metadata(items[0], user_id=user_id)
    md = item_metadata(items[-1], user_id=user_id)
    md.update(
        mem0_hooks_id=items[0].id,
        mem0_hooks_ids=[item.id for item in items],
        seq=items[0].seq,
        role=items[0].role if len({item.role for item in items}) == 1 else "conversation",
    )
    md["mem0_hooks_role"] = md["role"]
    return md


def is_uuid(value: str) -> bool:
    """Whether ``value`` reads as a UUID (the ids the mem0 server and OpenMemory give)."""
    import uuid

    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _id_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def api_role(role: str) -> str:
    """Message role for the Mem0 APIs: only ``user`` and ``assistant`` exist there (a note is the user's)."""
    return "assistant" if role == "assistant" else "user"


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string or a unix time as an aware datetime; None when neither."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def iso(value: Any) -> str:
    """``value`` (ISO string or unix time) as ISO-8601 UTC; the input as a string when it is neither."""
    when = parse_time(value)
    if when is None:
        return "" if value is None else str(value)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_time(value: Any) -> int | None:
    when = parse_time(value)
    return int(when.timestamp()) if when else None


def expiration_date(created_at: str, days: int | None) -> str | None:
    """``YYYY-MM-DD`` when a memory made at ``created_at`` must be forgotten (``auto_delete_after_days``)."""
    if not days:
        return None
    start = parse_time(created_at) or datetime.now(timezone.utc)
    return (start + timedelta(days=int(days))).strftime("%Y-%m-%d")


def memory_from(
    *,
    id: Any,
    text: Any,
    metadata: Any,
    created_at: Any = None,
    session_id: Any = None,
    score: Any = None,
    role: Any = None,
) -> Memory:
    """A ``Memory`` from a store's record; our own metadata (project, role, turn time) wins over the store's.

    ``role``: the store's own record of it (the mem0 server moves ``role`` out of the metadata)."""
    md = dict(metadata) if isinstance(metadata, dict) else {}
    project = str(md.get("project") or "")
    scope = str(md.get("scope") or ("project" if project else "user"))
    try:
        number = float(score) if score is not None else None
    except (TypeError, ValueError):
        number = None
    return Memory(
        id=str(id),
        text=str(text or ""),
        role=str(md.get("mem0_hooks_role") or md.get("role") or role or ""),
        created_at=iso(md.get("created_at") or created_at),
        session_id=str(session_id or md.get("run_id") or md.get("session_id") or ""),
        project=project,
        scope=scope,
        score=number,
        metadata=md,
    )


def project_names(project: str | None) -> frozenset[str] | None:
    """The identities a project's memories may be stored under in a remote store: ``project`` and the old
    path identities recorded for it on this machine (``project_map``: remote memories are aliased, not
    rewritten). None for None (every project)."""
    if project is None:
        return None
    from mem0_hooks.project_map import identities

    return identities(project)


def in_scope(memory: Memory, project: str | Collection[str] | None) -> bool:
    """Recall's rule (same as the local store): this project's memories plus user-wide ones.

    ``project`` is an identity or a collection of them (``project_names``; None: every project). A
    memory without our ``project`` metadata (written by another Mem0 client) counts as user-wide.
    """
    if memory.scope == "user" or project is None:
        return True
    return memory.project == project if isinstance(project, str) else memory.project in project


def of_project(memory: Memory, names: Collection[str] | None) -> bool:
    """Whether ``memory`` belongs to the project ``names`` stands for (every memory for None)."""
    return names is None or memory.project in names


def newest_first(memories: list[Memory]) -> list[Memory]:
    return sorted(memories, key=lambda m: (m.created_at, m.metadata.get("seq") or 0), reverse=True)
