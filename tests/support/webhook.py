"""A local webhook for the notification tests: an http.server on 127.0.0.1 that records
every POST (no network), optionally answering late to provoke a timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Hook:
    url: str
    received: list[Received] = field(default_factory=list)
    delay_s: float = 0.0  # answer this late (a timeout test)


@contextmanager
def local_webhook(delay_s: float = 0.0) -> Iterator[Hook]:
    """A server on a free port for the test's duration; ``hook.received`` fills as POSTs land."""
    hook = Hook(url="", delay_s=delay_s)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode("utf-8")
            hook.received.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(hook.delay_s)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/mytopic"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def refused_url() -> str:
    """A URL on a local port nothing listens on (bound, then closed at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mytopic"
