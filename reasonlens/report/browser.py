"""Open a report in headless Chromium with networking disabled; check charts; screenshot.

Drives Chromium over the DevTools protocol on ``--remote-debugging-pipe`` (fd 3 = commands in,
fd 4 = replies out, NUL-separated JSON) with the standard library only. Networking is cut twice:
a dead proxy (``--proxy-server=127.0.0.1:9``) and a host resolver that maps every name to
NOTFOUND; any request the page makes is also recorded (``Network.requestWillBeSent``) so a test
can assert there were none besides the file itself.

    python -m reasonlens.report.browser reports/demo.html --screenshot reports/demo.png
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--hide-scrollbars", "--force-device-scale-factor=1")

MAX_SHOT = 16000  # px: the tallest capture Chromium makes in one piece

CHECK_JS = """
(() => {
  const charts = Array.from(document.querySelectorAll('.chart'));
  return JSON.stringify({
    done: document.documentElement.getAttribute('data-charts-done'),
    ok: document.documentElement.getAttribute('data-charts-ok'),
    failed: document.documentElement.getAttribute('data-charts-failed'),
    charts: charts.map(c => ({id: c.id, svg: c.querySelectorAll('svg').length,
                              canvas: c.querySelectorAll('canvas').length,
                              marks: c.querySelectorAll('svg path, svg rect, svg line').length,
                              error: c.classList.contains('chart-error')})),
    scripts: document.querySelectorAll('script').length,
    title: document.title,
    height: Math.ceil(document.documentElement.scrollHeight),
  });
})()
"""


@dataclass
class BrowserResult:
    """What the page did: chart status, console errors, dialogs, network requests."""

    state: dict[str, Any]
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    probe: Any = None

    @property
    def charts(self) -> list[dict]:
        return self.state.get("charts", [])


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which(
        "google-chrome")


class _Pipe:
    def __init__(self, proc: subprocess.Popen, wfd: int, rfd: int):
        self.proc, self.wfd, self.rfd = proc, wfd, rfd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read_one(self, deadline: float) -> dict | None:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.rfd], [], [], min(left, 0.5))
            if r:
                chunk = os.read(self.rfd, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        mid = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_one(deadline)
            if msg is None:
                raise TimeoutError(f"no reply to {method} in {timeout:.0f} s")
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self._read_one(deadline)
            if msg is None:
                return
            self.events.append(msg)


def _page_height(pipe: _Pipe, sid: str) -> int:
    """The document's height now (it can grow after the charts report done: the viewer)."""
    res = pipe.call("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                         "returnByValue": True}, session=sid)
    val = res.get("result", {}).get("value")
    return int(val) if isinstance(val, (int, float)) else 0


def check_report(html_path: str | Path, *, screenshot: str | Path | None = None,
                 chromium: str | None = None, timeout: float = 60.0, width: int = 1280,
                 region: tuple[int, int] | None = None, probe: str | None = None,
                 scale_to_fit: bool = False) -> BrowserResult:
    """Load ``html_path`` from file:// offline, wait for the charts, collect what happened.

    ``screenshot`` gets a PNG of the whole page, or of ``region`` = (top, height) in CSS pixels.
    A page taller than Chromium's 16,000 px capture limit is cut there, unless ``scale_to_fit``
    shrinks the image so the whole page fits.
    ``probe``: a JavaScript expression returning a JSON string, evaluated once the charts are
    done; its parsed value lands in ``BrowserResult.probe``.

    Raises RuntimeError when Chromium is missing or the page never reports its charts done.
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise RuntimeError("chromium is not installed")
    url = Path(html_path).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="reasonlens-chromium-")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()

    def _fds() -> None:  # in the child: commands on fd 3, replies on fd 4
        a, b = os.dup(to_child_r), os.dup(from_child_w)  # copies first: 3/4 may be taken
        os.dup2(a, 3)
        os.dup2(b, 4)

    cmd = [exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
           f"--window-size={width},900", "about:blank"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=_fds,
                            pass_fds=(3, 4, to_child_r, from_child_w))
    os.close(to_child_r)
    os.close(from_child_w)
    pipe = _Pipe(proc, to_child_w, from_child_r)
    try:
        targets = pipe.call("Target.getTargets")["targetInfos"]
        page = next((t["targetId"] for t in targets if t.get("type") == "page"), None)
        if page is None:
            page = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = pipe.call("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
        for dom in ("Page.enable", "Runtime.enable", "Network.enable", "Log.enable"):
            pipe.call(dom, session=sid)
        pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900,
                                                         "deviceScaleFactor": 1,
                                                         "mobile": False}, session=sid)
        pipe.call("Page.navigate", {"url": url}, session=sid)
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            res = pipe.call("Runtime.evaluate", {"expression": CHECK_JS, "returnByValue": True},
                            session=sid)
            val = res.get("result", {}).get("value")
            state = json.loads(val) if isinstance(val, str) else {}
            if state.get("done") == "1":
                break
            pipe.pump(0.25)
        else:
            raise RuntimeError(f"charts not done after {timeout:.0f} s: {state}")
        pipe.pump(0.5)
        result = BrowserResult(state=state)
        if probe is not None:
            val = pipe.call("Runtime.evaluate", {"expression": probe, "returnByValue": True},
                            session=sid).get("result", {}).get("value")
            result.probe = json.loads(val) if isinstance(val, str) else val
        for ev in pipe.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                result.console_errors.append(" ".join(str(a.get("value", a.get(
                    "description", ""))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                result.console_errors.append(p["entry"].get("text", ""))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                result.exceptions.append(d.get("exception", {}).get("description")
                                         or d.get("text", ""))
            elif m == "Page.javascriptDialogOpening":
                result.dialogs.append(p.get("message", ""))
            elif m == "Network.requestWillBeSent":
                result.requests.append(p.get("request", {}).get("url", ""))
        if screenshot is not None:
            h = _page_height(pipe, sid) or int(state.get("height") or 900)
            state["height"] = h
            pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": min(
                h, MAX_SHOT), "deviceScaleFactor": 1, "mobile": False}, session=sid)
            pipe.pump(0.3)
            params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
            if region is None and scale_to_fit and h > MAX_SHOT:
                params["clip"] = {"x": 0, "y": 0, "width": width, "height": h,
                                  "scale": MAX_SHOT / h}
            if region is not None:
                top, height = region
                params["clip"] = {"x": 0, "y": top, "width": width,
                                  "height": max(1, min(height, h - top)), "scale": 1}
            shot = pipe.call("Page.captureScreenshot", params, session=sid)
            out = Path(screenshot)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(base64.b64decode(shot["data"]))
            result.screenshot = out
        return result
    finally:
        try:
            pipe.send("Browser.close")
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - make sure the browser goes away
            proc.kill()
            proc.wait(timeout=10)
        os.close(to_child_w)
        os.close(from_child_r)
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Check that a reasonlens report renders offline.")
    ap.add_argument("html", help="report HTML file")
    ap.add_argument("--screenshot", help="write a full-page PNG here")
    ap.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    ap.add_argument("--top", type=int, default=0, help="screenshot from this y (CSS pixels)")
    ap.add_argument("--height", type=int, default=0, help="screenshot height (0: whole page)")
    ap.add_argument("--fit", action="store_true",
                    help="shrink a page taller than 16,000 px so the screenshot shows all of it")
    a = ap.parse_args(argv)
    r = check_report(a.html, screenshot=a.screenshot, width=a.width,
                     region=(a.top, a.height) if a.height else None, scale_to_fit=a.fit)
    bad = [c["id"] for c in r.charts if not (c["svg"] or c["canvas"]) or c["error"]]
    print(json.dumps({"charts": len(r.charts), "not_rendered": bad, "console_errors":
                      r.console_errors, "exceptions": r.exceptions, "dialogs": r.dialogs,
                      "requests": [u for u in r.requests if not u.startswith("file:")]},
                     indent=2))
    return 1 if bad or r.console_errors or r.exceptions or r.dialogs else 0


if __name__ == "__main__":
    raise SystemExit(main())
