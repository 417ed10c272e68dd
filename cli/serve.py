"""`cifar-tui serve`: the TUI in a browser, through textual-serve.

textual-serve (Textualize's own server for Textual apps, the `serve` extra) starts one
process per browser session and relays its terminal over a websocket to xterm.js. Each
session runs this module (``python -m cli.serve``): the same TUI as `cifar-tui`, on the
store `serve` was given, which it finds in $CIFAR_TUI_DB so no password is on a command
line. textual-serve has no login, so it binds to localhost unless told otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import os
import shlex
import socket
import sys
from typing import Any

from cli.arg_types import int_between
from cli.common import CliError, db_parent, open_store

NO_AUTH_FLAG = "--i-know-there-is-no-auth"
EXTRA_MISSING = ("`cifar-tui serve` needs textual-serve, which is not installed; "
                 "install the serve extra: pip install 'cifar-tui[serve]'")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve", parents=[db_parent()], help="serve the TUI to a web browser (textual-serve)",
        description="Serve the TUI over HTTP: each browser tab gets its own TUI on this "
                    "store. There is no login, so it listens on localhost only; reach it "
                    "from a laptop through the ssh tunnel it prints.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs "
                        f"{NO_AUTH_FLAG})")
    p.add_argument("--port", type=int_between(1, 65535), default=8000,
                   help="port to listen on (default 8000)")
    p.add_argument(NO_AUTH_FLAG, dest="no_auth_ok", action="store_true",
                   help="listen on a non-local address although anyone who reaches the port "
                        "gets the TUI, with no login")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    server_class = load_server_class()
    check_host(args.host, args.no_auth_ok)
    with open_store(args) as store:  # a bad --db is named now, not in every browser tab
        url, label = store.url, store.display_url
    listener = claim_port(args.host, args.port)
    listener.close()  # free it for the server; the check only turns "in use" into one line
    # The sessions inherit the environment: the store travels there, not on a command
    # line that `ps` (and textual-serve's log) would show with its password.
    os.environ["CIFAR_TUI_DB"] = url
    for line in startup_lines(args.host, args.port, label):
        print(line)
    sys.stdout.flush()
    server = server_class(session_command(), host=args.host, port=args.port, title="cifar-tui")
    try:
        server.serve()
    except OSError as exc:  # taken between the check and the bind
        raise CliError(port_problem(args.host, args.port, exc)) from None
    return 0


def load_server_class() -> type:
    """textual-serve's Server, quieter: it would print the session command as the page title
    and in its banner, and it builds the page's websocket URL from the bound host, which
    is wrong seen through a tunnel to another local port. The request's own Host is right."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise CliError(EXTRA_MISSING) from None

    class CifarServer(Server):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.sessions: set[asyncio.Task] = set()

        async def on_startup(self, app: Any) -> None:
            self.console.print("[cyan]Press Ctrl+C to stop serving.")

        async def handle_websocket(self, request: Any) -> Any:
            task = asyncio.current_task()
            assert task is not None
            self.sessions.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions.discard(task)

        async def on_shutdown(self, app: Any) -> None:
            # Ctrl+C with a tab open: aiohttp would wait 60 s for each session's websocket.
            # Cancelled, a session tells its TUI to quit and waits for it to exit.
            for task in list(self.sessions):
                task.cancel()

        async def handle_index(self, request: Any) -> Any:
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

    return CifarServer


def is_loopback(host: str) -> bool:
    """localhost, 127.x.x.x or ::1: only this machine can connect."""
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost
        return False


def check_host(host: str, no_auth_ok: bool) -> None:
    if not is_loopback(host) and not no_auth_ok:
        raise CliError(f"--host {host} would let anyone who reaches this machine use the TUI, "
                       f"and textual-serve has no login; keep the default 127.0.0.1 and use "
                       f"the ssh tunnel it prints, or add {NO_AUTH_FLAG}")


def claim_port(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), or the one-line reason it cannot be."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise CliError(f"--host {host}: not an address of this machine ({exc.strerror}); "
                       "give an IP address or a resolvable name") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(port_problem(host, port, exc)) from None
    return sock


def port_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} on {host} is in use (another `cifar-tui serve`?); "
                "pick a free one with --port")
    if exc.errno == errno.EACCES:
        return f"port {port} needs root; pick one above 1023 with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host} is not an address of this machine; use 127.0.0.1"
    return f"cannot listen on {host}:{port} ({exc.strerror or exc}); try another --port"


def session_command() -> str:
    """What textual-serve runs per browser session: this Python, this module. -P (3.11+)
    keeps the current folder off sys.path, so a folder named cli/ there cannot stand in."""
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    return shlex.join([sys.executable, *safe_path, "-m", "cli.serve"])


def ssh_hint(port: int, user: str | None = None, host: str | None = None) -> str:
    """The tunnel a laptop opens to reach a server bound to this machine's localhost."""
    user = user if user is not None else current_user()
    host = host or this_host()
    target = f"{user}@{host}" if user else host
    return f"ssh -L {port}:localhost:{port} {target}"


def this_host() -> str:
    """This machine's name as a laptop would type it: the full name where DNS knows one,
    else the host name; a placeholder where both only say "localhost"."""
    for name in (socket.getfqdn(), socket.gethostname()):
        if name and "localhost" not in name and not is_loopback(name):
            return name
    return "<this-host>"


def current_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return None


def startup_lines(host: str, port: int, store_label: str) -> list[str]:
    shown = this_host() if host in ("0.0.0.0", "::", "") else host  # every address
    shown = f"[{shown}]" if ":" in shown else shown
    lines = [f"serving the TUI on http://{shown}:{port} for the store {store_label}; "
             "each browser tab gets its own session (no login)"]
    if is_loopback(host):
        lines += ["from another machine, open a tunnel and browse to "
                  f"http://localhost:{port}:", f"  {ssh_hint(port)}"]
    else:
        lines.append("WARNING: anyone who can reach this port gets the TUI; there is no login")
    return lines


def run_session() -> int:
    """One browser session: the TUI on textual-serve's web driver. Its stdout is that
    driver's pipe, not a terminal, so `cifar-tui`'s terminal check is not for here."""
    from storage.errors import StoreError
    from tui.app import make_app

    try:
        app = make_app()  # the store from $CIFAR_TUI_DB, which `serve` set
    except StoreError as exc:
        print(f"cifar-tui: error: {exc}", file=sys.stderr)
        return 2
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(run_session())
