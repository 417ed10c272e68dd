"""Telling a run's end: the one-line message, and the webhook POST (an ntfy topic, say).

The process that ends a run posts (the worker, or a foreground `train`), so the
message goes out with no TUI open. Posting never raises: a webhook that fails is
one line in the caller's log, never a failed run. Stdlib only; urllib is imported
when a post is made, so the TUI (which only formats messages) does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.formatting import pct
from engine.settings import SettingsError, load

TIMEOUT_SECONDS = 5.0
ENDED = ("completed", "failed")  # the ends worth telling; a cancel was asked for by someone


@dataclass(frozen=True)
class PostResult:
    ok: bool
    detail: str  # "HTTP 200", or why it failed, in a few words


def end_message(run_id: int, name: str | None, status: str, val_acc: float | None = None,
                error: str | None = None) -> str:
    """'Run #4 resnet9-0004 completed: 93.1% val' or 'Run #5 failed: <reason>'."""
    if status == "completed":
        label = f"Run #{run_id} {name}" if name else f"Run #{run_id}"
        return f"{label} completed" + ("" if val_acc is None else f": {pct(val_acc)} val")
    reason = next((ln.strip() for ln in (error or "").splitlines() if ln.strip()), "")
    return f"Run #{run_id} {status}: {reason[:300] or 'no reason recorded'}"


def post_webhook(url: str, title: str, body: str,
                 timeout: float = TIMEOUT_SECONDS) -> PostResult:
    """POST ``body`` as plain text with ``title`` in a Title header (as ntfy reads it)."""
    import socket
    import urllib.error
    import urllib.request

    # Header values go out as latin-1: a run name in another script must not fail the post.
    safe_title = title.encode("ascii", "replace").decode("ascii")
    request = urllib.request.Request(
        url, data=body.encode("utf-8"), method="POST",
        headers={"Title": safe_title, "Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return PostResult(True, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return PostResult(False, f"HTTP {exc.code} {exc.reason}")
    except TimeoutError:
        return PostResult(False, f"no answer within {timeout:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return PostResult(False, f"no answer within {timeout:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return PostResult(False, "connection refused")
        return PostResult(False, str(getattr(reason, "strerror", None) or reason))
    except Exception as exc:  # a bad URL, a reset connection: never the run's problem
        return PostResult(False, f"{type(exc).__name__}: {exc}")


def announce_end(run_id: int, name: str | Callable[[], str | None] | None, status: str,
                 val_acc: float | None, error: str | None, log: Callable[[str], None]) -> None:
    """POST the end of a run to the configured webhook, if any; a failure is one log line.
    ``name`` may be a function, called only when there is a webhook to post to."""
    if status not in ENDED:
        return
    try:
        url = load().webhook_url
    except SettingsError as exc:
        log(f"run {run_id}: webhook not sent: {exc}")
        return
    if not url:
        return
    if callable(name):
        name = name()
    message = end_message(run_id, name, status, val_acc, error)
    result = post_webhook(url, f"cifar-tui: run #{run_id} {status}", message)
    if not result.ok:
        log(f"run {run_id}: webhook {url} failed: {result.detail}")
