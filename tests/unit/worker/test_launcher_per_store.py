"""Workers per store: the lock is the store and the device, and the CLI asks about its own.

The test process takes the lock files itself (real flocks), as a live worker would;
no worker process is spawned.
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
def stores(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Two stores in one app home: name -> (db path, store id)."""
    found = {}
    for name in ("a", "b"):
        db = str(tmp_path / f"{name}.db")
        with RunStore(db) as store:
            found[name] = (db, store.store_id)
    return found


@pytest.fixture
def a_worker(stores: dict[str, tuple[str, str]]) -> Iterator[launcher.WorkerLock]:
    """Store a's worker on the CPU, alive while the test runs."""
    lock = launcher.WorkerLock(stores["a"][1], "cpu")
    assert lock.acquire("sqlite:///a.db")
    yield lock
    lock.release()


def test_lock_and_log_are_named_after_store_and_device() -> None:
    store_id = "0123abcd-0000-0000-0000-000000000000"
    assert launcher.lock_path(store_id, "cuda:1").name == "worker-0123abcd-cuda-1.lock"
    assert launcher.log_path(store_id, "cpu").name == "worker-0123abcd-cpu.log"


def test_two_stores_each_hold_a_worker_on_one_device(
        stores: dict[str, tuple[str, str]], a_worker: launcher.WorkerLock) -> None:
    a_id, b_id = stores["a"][1], stores["b"][1]
    assert launcher.live_worker(b_id, "cpu") is None
    assert launcher.any_live_worker(b_id) is None  # a's worker never claims b's runs
    b_worker = launcher.WorkerLock(b_id, "cpu")
    assert b_worker.acquire("sqlite:///b.db")
    try:
        assert not launcher.WorkerLock(b_id, "cpu").acquire("x")  # one per store and device
        live = {w.store_id: w for w in launcher.all_live_workers()}
        assert set(live) == {a_id, b_id}
        assert live[b_id].db_url == "sqlite:///b.db" and live[b_id].device == "cpu"
    finally:
        b_worker.release()
    assert launcher.any_live_worker(a_id) is not None
    assert launcher.any_live_worker(b_id) is None


def test_status_marks_which_worker_serves_this_store(
        stores: dict[str, tuple[str, str]], a_worker: launcher.WorkerLock, capsys) -> None:
    assert main(["worker", "--status", "--db", stores["b"][0]]) == 0
    out = capsys.readouterr().out.strip()
    assert f"another store, id {stores['a'][1][:8]}" in out and "(this store)" not in out
    assert main(["worker", "--status", "--db", stores["a"][0]]) == 0
    assert "(this store)" in capsys.readouterr().out


def test_stop_for_another_store_leaves_the_live_worker_alone(
        stores: dict[str, tuple[str, str]], a_worker: launcher.WorkerLock, capsys) -> None:
    # Were the wrong worker stopped, the SIGTERM would land on this test process.
    assert main(["worker", "--stop", "--db", stores["b"][0]]) == 0
    out = capsys.readouterr().out.strip()
    assert out == (f"no worker is running for store sqlite:///{stores['b'][0]} "
                   "(1 worker(s) of other stores left running)")
    info = launcher.live_worker(stores["a"][1], "cpu")
    assert info is not None and info.pid == os.getpid()


@pytest.mark.parametrize("device, words", [
    ("x", "unknown device 'x'; use auto, cpu, cuda or cuda:N"),
    ("cuda:9999", "no CUDA device cuda:9999 on this machine"),
])
def test_worker_refuses_a_device_before_taking_a_lock(
        stores: dict[str, tuple[str, str]], device: str, words: str, capsys) -> None:
    db, store_id = stores["b"]
    with RunStore(db) as store:
        run_id = store.create_run(cfg(dataset="synthetic"))
    assert main(["worker", "--device", device, "--exit-when-empty", "--db", db]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert not launcher.lock_path(store_id, device).exists()
    with RunStore(db) as store:
        assert store.get_run(run_id).status == "queued"


def test_queue_refuses_a_worker_device_before_queueing(
        stores: dict[str, tuple[str, str]], capsys) -> None:
    db = stores["b"][0]
    code = main(["queue", "--dataset", "synthetic", "--worker-device", "gpu", "--db", db])
    assert code == 2 and "unknown device 'gpu'" in capsys.readouterr().err
    with RunStore(db) as store:
        assert store.count_runs() == 0
