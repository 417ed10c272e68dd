"""One answer to "is a worker alive for this store?": any_live_worker, used by queue,
resume and the TUI.

A worker is alive while it holds its store and device's lock file; here the test process
takes that lock itself (a real flock), so no worker process is spawned unless the code
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
def store_id(tmp_path: Path) -> str:
    with RunStore(str(tmp_path / "runs.db")) as store:
        return store.store_id


@pytest.fixture
def gpu_worker(store_id: str) -> Iterator[launcher.WorkerLock]:
    """A live worker of the test store for cuda:1, as the lock file shows it."""
    lock = launcher.WorkerLock(store_id, "cuda:1")
    assert lock.acquire("sqlite:///runs.db")
    yield lock
    lock.release()


@pytest.fixture
def no_stray_worker(store_id: str) -> Iterator[None]:
    yield
    for device in ("auto", "cpu"):  # only there if the code under test started one
        if launcher.live_worker(store_id, device) is not None:
            launcher.stop_worker(store_id, device)


def test_any_live_worker_sees_a_worker_on_any_device(store_id: str) -> None:
    assert launcher.any_live_worker(store_id) is None
    lock = launcher.WorkerLock(store_id, "cuda:1")
    assert lock.acquire("sqlite:///x.db")
    try:
        info = launcher.any_live_worker(store_id)
        assert info is not None and (info.device, info.pid) == ("cuda:1", os.getpid())
    finally:
        lock.release()
    assert launcher.any_live_worker(store_id) is None  # the lock is free again


def test_queue_starts_no_worker_while_one_on_another_device_lives(
    gpu_worker: launcher.WorkerLock, no_stray_worker: None, store_id: str, tmp_path: Path,
    capsys,
) -> None:
    db = str(tmp_path / "runs.db")
    code = main(["queue", "--dataset", "synthetic", "--worker-device", "cpu", "--db", db])
    out = capsys.readouterr().out
    assert code == 0 and out.strip() == "queued run 1"
    assert launcher.live_worker(store_id, "cpu") is None


def test_resume_starts_no_worker_while_one_lives(
    gpu_worker: launcher.WorkerLock, no_stray_worker: None, tmp_path: Path, capsys,
) -> None:
    db = str(tmp_path / "runs.db")
    with RunStore(db) as store:
        run_id = store.create_run(cfg(dataset="synthetic"))
        store.request_cancel(run_id)
    assert main(["resume", str(run_id), "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"run {run_id} requeued to resume from the start (no checkpoint)"


def test_the_tui_asks_the_same_function(gpu_worker: launcher.WorkerLock, tmp_path: Path) -> None:
    from tui.app import make_app

    with RunStore(str(tmp_path / "runs.db")) as store:
        app = make_app(store=store, poll_interval=None)
        assert app.ctx.worker_alive()
        gpu_worker.release()
        assert not app.ctx.worker_alive()
