"""A headless Chromium driven over the DevTools protocol, and the dashboard served for it.

A plain ``chromium --headless --screenshot`` captures only Streamlit's loading placeholder,
so pages are loaded over the DevTools protocol and read once their content is present. The
``websockets`` package comes with Streamlit; nothing else is needed.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
# The flags ../shared/ENVIRONMENT.md gives for a headless Chromium in a container.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# Set before any page script runs: a script that got in would call alert() and flip this.
XSS_TRAP = (
    "window.__xss = false;"
    "window.alert = window.confirm = window.prompt = function () { window.__xss = true; };"
)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@contextlib.contextmanager
def serve_dashboard(workspace: Path, timeout: float = 90) -> Iterator[str]:
    """Run ``neco dashboard -w WORKSPACE`` on a free port; yield its address."""
    port = free_port()
    command = [sys.executable, "-m", "neco", "dashboard", "-w", str(workspace), "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        address = f"http://127.0.0.1:{port}"
        try:
            try:
                assert _wait_http(f"{address}/_stcore/health", timeout) == "ok"
            except OSError:
                log.seek(0)
                raise RuntimeError(f"the dashboard did not start:\n{log.read().decode()}") from None
            yield address
        finally:
            os.killpg(process.pid, 15)  # the server and the streamlit process it started
            process.wait(timeout=20)


class Browser:
    """One headless Chromium tab, driven over the DevTools protocol."""

    def __init__(self, executable: str, width: int = 1440, height: int = 2200) -> None:
        self.profile = tempfile.mkdtemp(prefix="neco-chromium-")
        self.process = subprocess.Popen(
            [
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # so that close() ends its helper processes too
        )
        self._stack = contextlib.ExitStack()
        try:
            self._connect(width, height)
        except BaseException:
            self.close()
            raise

    def _connect(self, width: int, height: int) -> None:
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.loads(_wait_http(f"http://127.0.0.1:{port}/json/list", 10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws: ClientConnection = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None)
        )
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", source=XSS_TRAP)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)  # dialogs, console messages, ...

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def open(self, url: str, expect: list[str], timeout: float = 60) -> str:
        """Load ``url`` and wait until every string of ``expect`` is in the page's text and
        Streamlit has finished running the script; return the text."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        text, previous = "", None
        while time.monotonic() < deadline:
            time.sleep(0.5)
            # The text, and how many elements are drawn (charts and tables add no text).
            state = self.evaluate(
                "JSON.stringify([document.body ? document.body.innerText : '',"
                " document.querySelectorAll('svg, canvas, img').length,"
                " !!document.querySelector('[data-testid=\"stStatusWidget\"]')])"
            )
            text, _drawn, running = json.loads(state)
            settled = state == previous and not running
            previous = state
            if settled and all(e in text for e in expect):
                time.sleep(0.5)  # let charts finish drawing before a screenshot
                return str(self.evaluate("document.body.innerText"))
        missing = [e for e in expect if e not in text]
        raise AssertionError(f"{url}: {missing} never appeared. The page said:\n{text[:3000]}")

    def wait_for(self, expect: list[str], timeout: float = 30) -> str:
        """Wait until every string of ``expect`` is in the page's text; return the text."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.evaluate("document.body.innerText") or ""
            if all(e in text for e in expect):
                return str(text)
            time.sleep(0.3)
        missing = [e for e in expect if e not in text]
        raise AssertionError(f"{missing} never appeared. The page said:\n{text[:3000]}")

    def click_table_row(self, table: int = 0, row: int = 0) -> None:
        """Click the selection box of ``row`` in the ``table``-th table of the page (tables
        are drawn on a canvas: the click goes to where the row is drawn)."""
        box = self.evaluate(
            "(() => { const e = document.querySelectorAll('[data-testid=\"stDataFrame\"]')"
            f"[{table}]; e.scrollIntoView(); const r = e.getBoundingClientRect();"
            " return [r.left, r.top]; })()"
        )
        time.sleep(0.5)
        left, top = box
        # The row-marker column is about 30 px wide; header and rows are 35 px high.
        x, y = left + 14, top + 35 * (row + 1) + 17
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click_mark(self, *label_parts: str) -> None:
        """Click the chart point whose description holds every one of ``label_parts``
        (Vega draws charts as SVG and describes each point in its aria-label)."""
        parts = json.dumps(list(label_parts))
        box = self.evaluate(
            "(() => { const want = " + parts + ";"
            " const mark = [...document.querySelectorAll('.vega-embed g.mark-symbol path')]"
            "   .find(p => want.every(w => (p.getAttribute('aria-label') || '').includes(w)));"
            " if (!mark) return null; mark.scrollIntoView({block: 'center'});"
            " const r = mark.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise AssertionError(f"no chart point described with {label_parts}")
        time.sleep(0.5)
        box = self.evaluate(
            "(() => { const want = " + parts + ";"
            " const mark = [...document.querySelectorAll('.vega-embed g.mark-symbol path')]"
            "   .find(p => want.every(w => (p.getAttribute('aria-label') || '').includes(w)));"
            " const r = mark.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                clickCount=1,
            )  # fmt: skip

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def dialogs(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("method") == "Page.javascriptDialogOpening"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
