"""Two stores on one machine (one CIFAR_TUI_HOME): their files and workers never mix.

Real CLI processes, real workers and real tiny training runs.
"""

from __future__ import annotations

import hashlib
import shutil
from functools import partial
from pathlib import Path

import pytest
from support.e2e import TINY, cli, start_worker, wait_for
from support.store import cfg

from storage import RunStore
from worker import launcher


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dbs(tmp_path: Path) -> tuple[str, str]:
    return str(tmp_path / "a.db"), str(tmp_path / "b.db")


def store_id_of(url: str) -> str:
    """The store's id (creating the store): what its workers' locks are named by."""
    with RunStore(url) as store:
        return store.store_id


def train_one_epoch(db: str) -> dict[str, str]:
    cli("train", *TINY, "--epochs", "1", "--limit-train", "48", "--db", db)
    with RunStore(db) as store:
        return store.get_run(1).checkpoints


def test_two_stores_keep_their_own_checkpoints_and_rm_spares_the_other(tmp_path: Path) -> None:
    a, b = dbs(tmp_path)
    a_ckpts, b_ckpts = train_one_epoch(a), train_one_epoch(b)
    assert a_ckpts["last"] != b_ckpts["last"]  # both are run 1, in two folders
    with RunStore(a) as store_a, RunStore(b) as store_b:
        assert Path(a_ckpts["last"]).parent == store_a.run_dir(1)
        assert store_b.owns_path(b_ckpts["last"]) and not store_b.owns_path(a_ckpts["last"])
        b_dir = store_b.run_dir(1)
    assert b_dir.is_dir()
    kept = {kind: sha(path) for kind, path in a_ckpts.items()}
    out = cli("rm", "1", "--yes", "--db", b).stdout
    assert out.startswith("deleted run 1") and "of checkpoints" in out
    assert not b_dir.exists()
    assert {kind: sha(path) for kind, path in a_ckpts.items()} == kept
    assert cli("show", "1", "--db", a).returncode == 0


def test_rm_leaves_files_outside_its_store_and_says_so(tmp_path: Path) -> None:
    a, _ = dbs(tmp_path)
    shared = tmp_path / "checkpoints" / "run-1"  # where older versions put every store's files
    shared.mkdir(parents=True)
    (shared / "last.pt").write_bytes(b"another store's weights")
    with RunStore(a) as store:
        run_id = store.create_run(cfg(dataset="synthetic"))
        store.set_checkpoint(run_id, "last", str(shared / "last.pt"))
    out = cli("rm", str(run_id), "--yes", "--db", a).stdout
    assert out.count("\n") == 1
    assert f"left 1 file(s) outside this store's folder (such as {shared / 'last.pt'})" in out
    assert (shared / "last.pt").read_bytes() == b"another store's weights"


def cancel_after_two_epochs(db: str, tmp_path: Path, procs: list) -> None:
    """Train run 1 of ``db`` in a worker until it has two epochs and a checkpoint; cancel."""
    worker = start_worker("--device", "cpu", "--exit-when-empty", "--db", db,
                          log=tmp_path / f"{Path(db).stem}-worker.log")
    procs.append(worker)
    with RunStore(db) as store:
        wait_for(lambda: len(store.get_run(1).epoch_rows) >= 2
                 and store.get_run(1).checkpoints.get("last"), what="two epochs and last.pt")
    cli("cancel", "1", "--wait", "30", "--db", db)
    assert worker.wait(timeout=60) == 0


def test_resume_uses_its_own_checkpoint_and_refuses_another_stores(
        tmp_path: Path, procs: list) -> None:
    a, b = dbs(tmp_path)
    cli("queue", "--no-worker", *TINY, "--epochs", "400", "--db", a)
    cancel_after_two_epochs(a, tmp_path, procs)
    b_last = train_one_epoch(b)["last"]
    with RunStore(a) as store:
        before = store.get_run(1)
    a_last, kept = before.checkpoints["last"], [(e.epoch, e.val_acc) for e in before.epoch_rows]

    out = cli("resume", "1", "--no-worker", "--db", a).stdout
    assert f"from {a_last}" in out
    worker = start_worker("--device", "cpu", "--exit-when-empty", "--db", a,
                          log=tmp_path / "a-resume.log")
    procs.append(worker)
    with RunStore(a) as store:
        wait_for(lambda: len(store.get_run(1).epoch_rows) > len(kept) + 1,
                 what="two epochs after the resume")
        cli("cancel", "1", "--wait", "30", "--db", a)
        rows = [(e.epoch, e.val_acc) for e in store.get_run(1).epoch_rows]
    assert worker.wait(timeout=60) == 0
    assert rows[:len(kept)] == kept  # the epochs before the resume are A's own, unchanged
    assert (Path(a_last).parent / "train.log").is_file()  # the child's output, beside its files
    assert [epoch for epoch, _ in rows] == list(range(1, len(rows) + 1))

    shutil.copyfile(b_last, a_last)  # another store's checkpoint where A's should be
    cli("resume", "1", "--no-worker", "--db", a)
    cli("worker", "--device", "cpu", "--exit-when-empty", "--db", a, timeout=120)
    with RunStore(a) as store:
        failed = store.get_run(1)
    assert failed.status == "failed"
    assert f"checkpoint {a_last} belongs to another store or run" in failed.error
    assert "\n" not in failed.error
    assert [(e.epoch, e.val_acc) for e in failed.epoch_rows] == rows  # nothing lost


def test_each_store_gets_its_own_worker_and_stop_stops_only_its_own(
        tmp_path: Path, procs: list) -> None:
    a, b = dbs(tmp_path)
    a_id, b_id = store_id_of(a), store_id_of(b)
    a_worker = start_worker("--device", "cpu", "--db", a, log=tmp_path / "a.log")
    procs.append(a_worker)
    wait_for(lambda: launcher.live_worker(a_id, "cpu"), what="store a's worker")
    try:
        out = cli("queue", *TINY, "--epochs", "1", "--worker-device", "cpu", "--db", b).stdout
        assert "started a worker for this store" in out
        assert f"(pid {a_worker.pid}) serves another store" in out
        b_info = wait_for(lambda: launcher.live_worker(b_id, "cpu"), what="store b's worker")
        with RunStore(b) as store:
            wait_for(lambda: store.get_run(1).status == "completed", what="b's run")
        status = cli("worker", "--status", "--db", b).stdout
        assert f"pid {b_info.pid}" in status and f"pid {a_worker.pid}" in status
        assert status.count("(this store)") == 1
        assert "worker for cpu stopped" in cli("worker", "--stop", "--db", b).stdout
        assert launcher.live_worker(b_id, "cpu") is None
        assert a_worker.poll() is None and launcher.live_worker(a_id, "cpu") is not None
    finally:
        launcher.stop_worker(b_id, "cpu")
    cli("worker", "--stop", "--device", "cpu", "--db", a)
    assert a_worker.wait(timeout=30) == 0


@pytest.mark.parametrize("device, words", [
    ("x", "unknown device 'x'"),
    ("cuda:9", "no CUDA device cuda:9 on this machine"),
])
def test_worker_refuses_a_device_it_does_not_have(device: str, words: str) -> None:
    import torch

    if device == "cuda:9" and torch.cuda.device_count() > 9:
        pytest.skip("this machine has a cuda:9")
    cli("queue", "--no-worker", *TINY, "--epochs", "1")
    proc = cli("worker", "--device", device, "--exit-when-empty", check=False)
    assert proc.returncode == 2
    assert words in proc.stderr and proc.stderr.count("\n") == 1 and proc.stdout == ""
    assert RunStore().get_run(1).status == "queued"  # nothing claimed
    assert launcher.all_live_workers() == []


def test_the_tui_s_stop_stops_each_of_its_store_s_worker_processes_once_and_no_other(
        tmp_path: Path, procs: list) -> None:
    a, b = dbs(tmp_path)
    a_id, b_id = store_id_of(a), store_id_of(b)
    two_devices = start_worker("--devices", "cpu:0,cpu:1", "--db", a, log=tmp_path / "a.log")
    other = start_worker("--device", "cpu", "--db", b, log=tmp_path / "b.log")
    procs.extend([two_devices, other])
    for store_id, device in ((a_id, "cpu:0"), (a_id, "cpu:1"), (b_id, "cpu")):
        wait_for(partial(launcher.live_worker, store_id, device), what=f"{device}'s worker")
    assert launcher.stop_store_workers(a_id)
    assert two_devices.wait(timeout=30) == 0
    assert [w.store_id for w in launcher.all_live_workers()] == [b_id]
    assert other.poll() is None
    assert launcher.stop_store_workers(b_id) and other.wait(timeout=30) == 0
    assert launcher.stop_store_workers(b_id), "nothing left to stop is not a failure"
