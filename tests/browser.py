"""Open an HTML file in headless Chromium (Debian's `chromium`) over the DevTools protocol,
with the network switched off, and say what happened: console errors, uncaught exceptions,
requests that left the page or failed, values of expressions, and a screenshot.

Why the DevTools protocol (with websocket-client, a small kept library) rather than
`chromium --dump-dom --screenshot`: the command-line modes log console messages but not failed
requests, and each needs its own browser start. One session here gives all of it.

    python -m tests.browser PAGE.html SHOT.png   # the README's screenshot, the test's way
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-port=0", "--remote-allow-origins=*",
         "--proxy-server=127.0.0.1:9"]  # belt and braces: nothing can be fetched anyway
START_TIMEOUT = 30.0
RMTREE_TRIES = 50  # × 0.1 s at most
STEP_TIMEOUT = 30.0


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageRun:
    """What opening a page gave."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every URL other than the page itself
    failed_requests: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""


class _Session:
    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=STEP_TIMEOUT)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)
        raise TimeoutError(method)

    def wait_for(self, event: str) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(event)
            self.events.append(json.loads(self.ws.recv()))


def _devtools_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            return found.group(1)
    raise RuntimeError("chromium did not start its DevTools server")


def open_page(page: Path, expressions: dict[str, str], *, width: int = 1280,
              height: int = 900) -> PageRun:
    """Load `page` offline, evaluate each expression (name → JavaScript), take a screenshot
    of the first `height` pixels."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed")
    profile = tempfile.mkdtemp(prefix="ftprep-chromium-")
    # Its own session: Chromium's helper processes (zygote, renderer, crashpad) are in the
    # group we end, not left writing into the profile while it is removed.
    proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}",
                             f"--window-size={width},{height}", "about:blank"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        return _run(_devtools_url(proc), page, expressions, width, height)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the browser started here
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
        _remove(profile)


def _remove(folder: str) -> None:
    """Remove the browser's profile. A killed helper can still be finishing a write for a
    moment (it is not our child, so it cannot be waited for): retry briefly, then fail."""
    for _ in range(RMTREE_TRIES - 1):
        try:
            shutil.rmtree(folder)
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(folder)


def _run(browser_url: str, page: Path, expressions: dict[str, str], width: int,
         height: int) -> PageRun:
    port = re.search(r":(\d+)/", browser_url).group(1)  # type: ignore[union-attr]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
        target = next(t for t in json.load(r) if t.get("type") == "page")
    s = _Session(target["webSocketDebuggerUrl"])
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            s.call(f"{domain}.enable")
        s.call("Network.emulateNetworkConditions", offline=True, latency=0,
               downloadThroughput=-1, uploadThroughput=-1)
        s.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
               deviceScaleFactor=1, mobile=False)
        url = page.resolve().as_uri()
        s.call("Page.navigate", url=url)
        s.wait_for("Page.loadEventFired")
        run = PageRun()
        for name, js in expressions.items():
            result = s.call("Runtime.evaluate", expression=js, returnByValue=True)
            run.values[name] = result.get("result", {}).get("value")
        shot = s.call("Page.captureScreenshot", format="png",
                      clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        run.screenshot = base64.b64decode(shot["data"])
        _collect(s.events, url, run)
        return run
    finally:
        s.ws.close()


def _collect(events: list[dict[str, Any]], url: str, run: PageRun) -> None:
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            run.console_errors.append(json.dumps(params.get("args"))[:300])
        elif method == "Runtime.exceptionThrown":
            run.console_errors.append(json.dumps(params.get("exceptionDetails"))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            run.console_errors.append(str(params["entry"].get("text"))[:300])
        elif method == "Network.requestWillBeSent":
            requested = params.get("request", {}).get("url", "")
            if requested != url and not requested.startswith("data:"):
                run.requests.append(requested)
        elif method == "Network.loadingFailed":
            run.failed_requests.append(str(params.get("errorText")))


def is_blank(png: bytes) -> bool:
    """True when the image holds (almost) one colour: nothing was drawn."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    low, high = image.getextrema()
    histogram = image.histogram()
    background = max(histogram)
    return high - low < 10 or background > 0.995 * sum(histogram)


def main(argv: list[str]) -> int:
    page, shot = Path(argv[0]), Path(argv[1])
    run = open_page(page, {}, width=1100, height=1300)
    problems = run.console_errors + run.requests + run.failed_requests
    if problems or is_blank(run.screenshot):
        print(f"browser: problems opening {page}: {problems or 'blank page'}", file=sys.stderr)
        return 1
    shot.write_bytes(run.screenshot)
    print(f"wrote {shot} ({len(run.screenshot) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
