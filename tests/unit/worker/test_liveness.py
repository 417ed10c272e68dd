"""One answer to "is a worker alive?": any_live_worker, used by queue, resume and the TUI.

A worker is alive while it holds its device's lock file; here the test process takes
that lock itself (a real flock), so no worker process is spawned unless the code
under test wrongly starts one, which the cleanup then stops.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.store import cfg

from cli.main import main
from storage import RunStore
from worker import launcher


@pytest.fixture
def gpu_worker() -> Iterator[launcher.DeviceLock]:
    """A live worker for cuda:1, as the lock file shows it."""
    lock = launcher.DeviceLock("cuda:1")
    assert lock.acquire("sqlite:///elsewhere.db")
    yield lock
    lock.release()


@pytest.fixture
def no_stray_worker() -> Iterator[None]:
    yield
    for device in ("auto", "cpu"):  # only there if the code under test started one
        if launcher.live_worker(device) is not None:
            launcher.stop_worker(device)


def test_any_live_worker_sees_a_worker_on_any_device() -> None:
    assert launcher.any_live_worker() is None
    lock = launcher.DeviceLock("cuda:1")
    assert lock.acquire("sqlite:///x.db")
    try:
        info = launcher.any_live_worker()
        assert info is not None and (info.device, info.pid) == ("cuda:1", os.getpid())
    finally:
        lock.release()
    assert launcher.any_live_worker() is None  # the lock is free again: nobody is alive


def test_queue_starts_no_worker_while_one_on_another_device_lives(
    gpu_worker: launcher.DeviceLock, no_stray_worker: None, tmp_path: Path, capsys,
) -> None:
    db = str(tmp_path / "runs.db")
    code = main(["queue", "--dataset", "synthetic", "--worker-device", "cpu", "--db", db])
    out = capsys.readouterr().out
    assert code == 0 and out.strip() == "queued run 1"
    assert launcher.live_worker("cpu") is None


def test_resume_starts_no_worker_while_one_lives(
    gpu_worker: launcher.DeviceLock, no_stray_worker: None, tmp_path: Path, capsys,
) -> None:
    db = str(tmp_path / "runs.db")
    with RunStore(db) as store:
        run_id = store.create_run(cfg(dataset="synthetic"))
        store.request_cancel(run_id)
    assert main(["resume", str(run_id), "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"run {run_id} requeued to resume from the start (no checkpoint)"


def test_the_tui_asks_the_same_function(gpu_worker: launcher.DeviceLock, tmp_path: Path) -> None:
    from tui.app import make_app

    with RunStore(str(tmp_path / "runs.db")) as store:
        app = make_app(store=store, poll_interval=None)
        assert app.ctx.worker_alive()
        gpu_worker.release()
        assert not app.ctx.worker_alive()
