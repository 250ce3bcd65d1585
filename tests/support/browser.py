"""Headless Chromium driven over the Chrome DevTools protocol: navigate, click, type, read, screenshot.

Debian's ``chromium`` package (``/usr/bin/chromium``), started with the flags that work on these
machines (no sandbox as root, no GPU, none of its background connections, a new empty profile), with
``--remote-debugging-port=0``: the port it took is in ``DevToolsActivePort`` in the profile. The
protocol goes over one websocket (``websocket-client``, a test dependency). Clicks and typing are
real input events (``Input.dispatchMouseEvent``, ``Input.insertText``) at the element's place on the
page, not ``element.click()`` from a script: the pages under test have no script of their own.

    with Chromium.start(tmp_path / "profile") as browser:
        browser.goto("http://127.0.0.1:8000/?token=...")
        browser.click("#search button")            # waits for the page it loads
        browser.screenshot(tmp_path / "search.png")
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The browser to drive: ``$MEM0_HOOKS_CHROMIUM``, else the first of ``CANDIDATES`` on PATH."""
    explicit = os.environ.get("MEM0_HOOKS_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(AssertionError):
    """The browser did not do what the test asked (a page did not load, an element is missing)."""


class Chromium:
    """One headless browser with one page (tab), driven over CDP."""

    def __init__(self, proc: subprocess.Popen[bytes], profile: Path, ws: Any) -> None:
        self.proc, self.profile, self.ws = proc, profile, ws
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.dialogs: list[str] = []

    @classmethod
    def start(cls, profile: Path, *, width: int = 1280, height: int = 900, binary: str | None = None) -> Chromium:
        import websocket

        binary = binary or find_chromium()
        if binary is None:
            raise BrowserError("no Chromium found")
        profile.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise BrowserError(f"Chromium did not start (exit {proc.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split("\n", 1)[0])
        page = None
        while page is None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                page = next((t for t in json.load(answer) if t.get("type") == "page"), None)
            if page is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise BrowserError("Chromium has no page to drive")
                time.sleep(0.05)
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        browser = cls(proc, profile, ws)
        browser.call("Page.enable")
        browser.call("Runtime.enable")
        return browser

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    # -- the protocol ----------------------------------------------------------------------------------
    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        wanted = self._next_id
        self.ws.send(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result") or {}
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            return
        self.events.append(message)
        if message["method"] == "Page.javascriptDialogOpening":  # a page under test must never open one
            self.dialogs.append(message["params"].get("message", ""))
            self.ws.send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog", "params": {"accept": False}}))

    def wait_for_event(self, method: str, after: int, timeout: float = 30) -> dict[str, Any]:
        """The first ``method`` event past the first ``after`` events kept."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[after:]:
                if event["method"] == method:
                    return event
            if time.monotonic() > deadline:
                raise BrowserError(f"no {method} within {timeout}s")
            self.ws.settimeout(max(deadline - time.monotonic(), 0.1))
            try:
                self._event(json.loads(self.ws.recv()))
            finally:
                self.ws.settimeout(30)

    # -- what a person does ----------------------------------------------------------------------------
    def goto(self, url: str) -> None:
        mark = len(self.events)
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        self.wait_for_event("Page.loadEventFired", mark)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def _center(self, selector: str) -> tuple[float, float]:
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height]; })()"
        )
        if not box:
            raise BrowserError(f"no element {selector!r} on {self.url()}")
        if box[2] <= 0 or box[3] <= 0:
            raise BrowserError(f"{selector!r} is not visible on {self.url()}")
        return box[0], box[1]

    def click(self, selector: str, *, loads: bool = True) -> None:
        """A real mouse click on the element's middle; ``loads``: wait for the page it loads."""
        x, y = self._center(selector)
        mark = len(self.events)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        if loads:
            self.wait_for_event("Page.loadEventFired", mark)

    def type_into(self, selector: str, text: str) -> None:
        """Click into a field, clear it, and type ``text``."""
        self.click(selector, loads=False)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).value = ''")
        self.call("Input.insertText", text=text)

    def text(self, selector: str = "body") -> str:
        value = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); return e ? e.innerText : null; }})()"
        )
        if value is None:
            raise BrowserError(f"no element {selector!r} on {self.url()}")
        return str(value)

    def count(self, selector: str) -> int:
        return int(self.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length"))

    def url(self) -> str:
        return str(self.evaluate("location.href"))

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the page (all of it with ``full_page``)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1},
            )
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
