"""`cifar-tui serve` in a real browser: headless Chromium loads the page and shows the runs.

The terminal is drawn by xterm.js on a canvas, so its text is not in the DOM. The test
drives Chromium over the DevTools protocol (aiohttp's websocket client, which textual-serve
brings): a script added before the page's own catches textual.js's xterm Terminal as it is
built, and the test reads the rows xterm.js holds on screen until the seeded run's name is
there, then takes a screenshot and checks it is not blank. Chromium comes from
$CIFAR_TUI_TEST_CHROMIUM (`.ci/run` installs it) or PATH; without one the test is skipped.
Every name lookup but 127.0.0.1 fails inside Chromium, so the page's web font is not
fetched and the test never touches the network.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from support.data import REPO
from support.store import cfg

from storage import RunStore

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp comes with the serve extra")
Image = pytest.importorskip("PIL.Image")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

RUN_NAME = "seen-in-a-browser"
DEADLINE_S = 45.0
# Before the page's scripts: keep the object textual.js builds around its xterm Terminal
# (it sets .terminal, then .fitAddon), so the test can read what the terminal shows.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "fitAddon",
                          {value, writable: true, configurable: true, enumerable: true});
    if (this.terminal && this.terminal.buffer) window.__servedTerminal = this.terminal;
  },
});
"""
SCREEN_TEXT = """(() => {
  const term = window.__servedTerminal;
  if (!term || !document.body.classList.contains("-first-byte")) return null;
  const shown = document.querySelector(".textual-terminal");
  if (getComputedStyle(shown).opacity !== "1") return null;  // still fading in
  const buffer = term.buffer.active, rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()"""
TWO_FRAMES = ("new Promise(done => requestAnimationFrame("
              "() => requestAnimationFrame(() => done(true))))")


def chromium_binary() -> str | None:
    named = os.environ.get("CIFAR_TUI_TEST_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, check: Any, deadline: float, proc: subprocess.Popen | None,
               log: Path) -> Any:
    """Poll ``check`` until it returns something truthy; fail (naming the log) if the
    process (when given) died or the deadline passed."""
    while time.monotonic() < deadline:
        if value := check():
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} before {what}:\n{log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def page_served(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (textual-serve's shell and the TUI it runs per tab)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group the test started (Chromium's helpers; the TUI sessions
    textual-serve started), then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture
def served_store(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen]]:
    """A store with one named run, served by `cifar-tui serve` on a free port."""
    db = tmp_path / "runs.db"
    store = RunStore(db)
    store.create_run(cfg(name=RUN_NAME, epochs=2))
    store.close()
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cifar_tui", "serve", "--db", str(db), "--port", str(port)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until("the page is served", lambda: page_served(port),
                   time.monotonic() + 20, proc, log)
        yield port, log, proc
    finally:
        stop(proc)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[int]:
    """Headless Chromium with the DevTools protocol on; yields its port."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium (chromium on PATH or $CIFAR_TUI_TEST_CHROMIUM); "
                    "`apt-get install chromium` or `.ci/run` installs it")
    profile, log = tmp_path / "chromium-profile", tmp_path / "chromium.log"
    args = [binary, "--headless=new", "--remote-debugging-port=0", f"--user-data-dir={profile}",
            "--window-size=1280,800", "--no-first-run", "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "about:blank"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    except OSError as exc:
        pytest.skip(f"Chromium ({binary}) could not start: {exc}")
    try:
        active = profile / "DevToolsActivePort"
        try:
            port = wait_until("Chromium's DevTools port",
                              lambda: active.exists() and active.read_text().split("\n")[0],
                              time.monotonic() + 30, proc, log)
        except AssertionError as exc:
            pytest.skip(f"Chromium ({binary}) could not start: {str(exc)[-300:]}")
        yield int(port)
    finally:
        stop(proc)


class DevTools:
    """The few DevTools-protocol calls the test needs, on one page's websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        async for message in self.ws:  # events arrive in between: skip them
            reply = message.json()
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]
        raise AssertionError(f"DevTools closed during {method}")

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def screen_text(self) -> str | None:
        return await self.evaluate(SCREEN_TEXT)

    async def wait_for_text(self, needle: str, what: str) -> str:
        """Poll the terminal's rows until ``needle`` is there; fail after DEADLINE_S."""
        deadline, text = time.monotonic() + DEADLINE_S, None
        while time.monotonic() < deadline:
            text = await self.screen_text()
            if text and needle in text:
                return text
            await asyncio.sleep(0.2)
        raise AssertionError(f"{what} never showed in {DEADLINE_S} s; the terminal held:\n{text}")


@asynccontextmanager
async def page_tools(devtools_port: int) -> AsyncIterator[DevTools]:
    """DevTools on Chromium's page, set up to catch the terminal of the next page loaded."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as reply:
            pages = [t for t in await reply.json() if t["type"] == "page"]
        async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            await tools.call("Page.enable")  # else the script below is not added
            await tools.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
            # A headless page never has focus, and a TUI told it is blurred hides its keys.
            await tools.call("Emulation.setFocusEmulationEnabled", enabled=True)
            yield tools


async def open_page(devtools_port: int, url: str) -> str:
    """Load ``url`` and wait until the terminal shows RUN_NAME; the tab stays open."""
    async with page_tools(devtools_port) as tools:
        await tools.call("Page.navigate", url=url)
        return await tools.wait_for_text(RUN_NAME, "the run's name")


async def look_at_page(devtools_port: int, url: str, shot: Path) -> dict[str, str]:
    """Open ``url``; wait (polling, with a deadline) until the terminal shows RUN_NAME and
    save a screenshot to ``shot``; then focus the page and press ``?``, as a person
    would. Returns the terminal's text at each step."""
    async with page_tools(devtools_port) as tools:
        await tools.call("Page.navigate", url=url)
        seen = {"table": await tools.wait_for_text(RUN_NAME, "the run's name")}
        assert await tools.evaluate(TWO_FRAMES)  # drawn, not only parsed
        png = await tools.call("Page.captureScreenshot", format="png")
        shot.write_bytes(base64.b64decode(png["data"]))
        await tools.evaluate("window.__servedTerminal.focus()")
        seen["focused"] = await tools.wait_for_text("Quit", "the footer's keys")
        for kind in ("keyDown", "keyUp"):
            await tools.call("Input.dispatchKeyEvent", type=kind, key="?", code="Slash",
                             **({"text": "?"} if kind == "keyDown" else {}))
        seen["help"] = await tools.wait_for_text("cifar-tui keys", "the help screen")
        return seen


def test_browser_shows_the_runs_table_and_takes_keys(
        chromium: int, served_store: tuple[int, Path, subprocess.Popen], tmp_path: Path) -> None:
    port, log, server = served_store
    shot = tmp_path / "served.png"
    started = time.monotonic()
    seen = asyncio.run(look_at_page(chromium, f"http://127.0.0.1:{port}/", shot))
    took = time.monotonic() - started

    row = next(line for line in seen["table"].splitlines() if RUN_NAME in line)
    assert "queued" in row, row  # the run's row in the table, with its status
    assert "New" in seen["focused"] and "Quit" in seen["focused"]
    assert "this help" in seen["help"]
    with Image.open(io.BytesIO(shot.read_bytes())) as image:
        rgb = image.convert("RGB")
    assert rgb.width == 1280, rgb.size
    colours = rgb.getcolors(maxcolors=1 << 20) or []
    # A blank page has one or two colours; drawn text has anti-aliased glyphs in many shades.
    assert len(colours) > 50, f"screenshot looks blank: {len(colours)} colours ({shot})"
    most = max(count for count, _ in colours)
    assert most < 0.98 * rgb.width * rgb.height, f"screenshot is one colour ({shot})"
    assert f"ssh -L {port}:localhost:{port} " in log.read_text()
    html = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
    assert "<div>cifar-tui</div>" in html and sys.executable not in html  # title, no command
    print(f"page to runs table, keys and help in {took:.1f} s; screenshot {shot}")


def test_ctrl_c_ends_the_server_and_its_open_sessions(
        chromium: int, served_store: tuple[int, Path, subprocess.Popen]) -> None:
    """With a tab still open, ctrl+c stops at once (aiohttp would wait 60 s for the tab's
    websocket) and the tab's TUI process exits with it."""
    port, log, server = served_store
    asyncio.run(open_page(chromium, f"http://127.0.0.1:{port}/"))
    sessions = wait_until("a session process", lambda: descendants(server.pid),
                          time.monotonic() + 10, server, log)
    server.send_signal(signal.SIGINT)  # to the server alone: it must end the sessions
    assert server.wait(timeout=20) == 0, log.read_text()
    wait_until("the sessions to exit", lambda: not any(map(alive, sessions)),
               time.monotonic() + 20, None, log)
