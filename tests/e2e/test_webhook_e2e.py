"""A run's end reaches the webhook from the process that ended it, with no TUI open."""

from __future__ import annotations

from support.e2e import TINY, cli
from support.webhook import local_webhook


def test_a_worker_completing_a_run_posts_once() -> None:
    with local_webhook() as hook:
        cli("settings", "--webhook-url", hook.url)
        out = cli("queue", "--no-worker", *TINY, "--epochs", "1", "--name", "tiny-hook").stdout
        run_id = int(out.split("queued run ")[1].split()[0].rstrip(";"))
        cli("worker", "--device", "cpu", "--exit-when-empty", timeout=240)
    assert len(hook.received) == 1
    got = hook.received[0]
    assert got.body.startswith(f"Run #{run_id} tiny-hook completed: ") and got.body.endswith("val")
    assert got.headers["Title"] == f"cifar-tui: run #{run_id} completed"


def test_a_foreground_train_posts_its_end_and_a_dead_webhook_is_one_line() -> None:
    with local_webhook() as hook:
        cli("settings", "--webhook-url", hook.url)
        cli("train", *TINY, "--epochs", "1", timeout=240)
    assert len(hook.received) == 1 and "completed" in hook.received[0].body
    # The server is gone now: the run still completes, and stderr says so in one line.
    proc = cli("train", *TINY, "--epochs", "1", timeout=240)
    warned = [ln for ln in proc.stderr.splitlines() if "webhook" in ln]
    assert len(warned) == 1 and "connection refused" in warned[0]
