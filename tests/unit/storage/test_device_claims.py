"""Claims that respect the device a run asks for, skip rows other workers hold
(PostgreSQL: FOR UPDATE SKIP LOCKED), and leave a resume to the host holding its checkpoint."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from support.store import PG_URL, cfg, empty_postgres

from engine.device_match import accepted_requests, accepts
from storage import RunStore
from storage.db import alembic_config


@pytest.mark.parametrize(("worker", "requested", "ok"), [
    ("auto", "cuda:3", True), (None, "cpu", True),
    ("cuda:1", "auto", True), ("cuda:1", "cuda", True), ("cuda:1", "cuda:1", True),
    ("cuda:1", "cuda:0", False), ("cuda:1", "cpu", False),
    ("cpu", "cpu", True), ("cpu", "cuda", False), ("cpu:1", "cpu", True),
])
def test_which_requests_a_worker_device_accepts(worker, requested, ok) -> None:
    assert accepts(worker, requested) is ok


def test_an_auto_worker_has_no_filter() -> None:
    assert accepted_requests("auto") is None and accepted_requests("cuda:2") == (
        "auto", "cuda", "cuda:2")


def test_a_worker_claims_only_runs_asking_for_its_device(store: RunStore) -> None:
    on_gpu1 = store.create_run(cfg(device="cuda:1"))
    on_cpu = store.create_run(cfg(device="cpu"))
    anywhere = store.create_run(cfg())
    gpu0 = store.claim_next_run("h:1:cuda:0", "cuda:0", "h")
    assert gpu0 is not None and gpu0.run_id == anywhere  # skips cuda:1 and cpu runs
    assert store.claim_next_run("h:1:cuda:0", "cuda:0", "h") is None
    cpu = store.claim_next_run("h:2:cpu", "cpu", "h")
    assert cpu is not None and cpu.run_id == on_cpu
    gpu1 = store.claim_next_run("h:3:cuda:1", "cuda:1", "h")
    assert gpu1 is not None and gpu1.run_id == on_gpu1
    assert store.get_run(on_gpu1).device == "cuda:1"


def test_a_resume_whose_checkpoint_only_its_host_has_waits_for_that_host(
        store: RunStore, tmp_path: Path) -> None:
    run_id = store.create_run(cfg())
    assert store.claim_next_run("a:1:cpu", "cpu", "host-a") is not None
    store.mark_interrupted(run_id, "host-a vanished")
    on_a = str(tmp_path / "only-on-host-a" / "last.pt")  # not visible from this process
    store.requeue_for_resume(run_id, on_a)
    assert store.claim_next_run("b:1:cpu", "cpu", "host-b") is None  # pinned to host-a
    claimed = store.claim_next_run("a:2:cpu", "cpu", "host-a")
    assert claimed is not None and claimed.resume_checkpoint == on_a


def test_a_resume_from_a_shared_root_goes_to_any_host(store: RunStore, tmp_path: Path) -> None:
    run_id = store.create_run(cfg())
    assert store.claim_next_run("a:1:cpu", "cpu", "host-a") is not None
    store.mark_interrupted(run_id, "host-a vanished")
    shared = tmp_path / "shared" / "last.pt"
    shared.parent.mkdir()
    shared.write_bytes(b"checkpoint")
    store.requeue_for_resume(run_id, str(shared))
    claimed = store.claim_next_run("b:1:cpu", "cpu", "host-b")
    assert claimed is not None and claimed.run_id == run_id
    assert [a.host for a in store.get_run(run_id).attempts] == ["host-a", "host-b"]


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL)")
def test_postgres_claims_skip_a_row_another_transaction_holds() -> None:
    empty_postgres(PG_URL)
    with RunStore(PG_URL) as store:
        first, second = store.create_run(cfg()), store.create_run(cfg())
        engine = create_engine(PG_URL)
        with engine.connect() as other:  # another host's worker, mid-claim on `first`
            other.execute(text("BEGIN"))
            other.execute(text("SELECT id FROM runs WHERE id = :id FOR UPDATE"), {"id": first})
            claimed = store.claim_next_run("b:1:cpu", "cpu", "host-b")  # does not wait
            other.execute(text("ROLLBACK"))
        engine.dispose()
        assert claimed is not None and claimed.run_id == second


def test_migration_fills_the_requested_device_from_each_config(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
    engine.dispose()
    with sqlite3.connect(path) as db:
        for run_id, device in ((1, "cuda:1"), (2, None)):
            config = cfg(device=device or "auto").to_dict()
            if device is None:
                del config["device"]  # a config written before the field existed
            db.execute(
                "INSERT INTO runs (id, name, status, config, model, dataset, epochs, batch_size,"
                " max_lr, weight_decay, grad_clip, optimizer, width_mult, created_at, queued_at)"
                " VALUES (?, 'old', 'queued', ?, 'resnet9', 'cifar10', 1, 8, 0.1, 0.0, NULL,"
                " 'sgd', 1.0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                (run_id, json.dumps(config)))
    with RunStore(str(path)) as store:  # upgrades on open
        gpu0 = store.claim_next_run("h:1:cuda:0", "cuda:0", "h")
        assert gpu0 is not None and gpu0.run_id == 2
        assert store.claim_next_run("h:1:cuda:0", "cuda:0", "h") is None


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL)")
def test_postgres_claims_at_the_same_moment_each_get_a_run() -> None:
    """A claim locks only the row it takes, so a worker claiming while another's claim is
    still open finds the next run rather than an "empty" queue (an --exit-when-empty
    worker, e.g. a Slurm job, would otherwise quit with runs left)."""
    empty_postgres(PG_URL)
    with RunStore(PG_URL) as host_a, RunStore(PG_URL) as host_b:
        ids = [host_a.create_run(cfg()) for _ in range(3)]
        inside, release = threading.Event(), threading.Event()
        take = host_a._take

        def slow_take(*args):  # noqa: ANN002, ANN202
            inside.set()  # host-a's claim transaction is open, its candidate locked
            assert release.wait(30)
            return take(*args)

        host_a._take = slow_take  # type: ignore[method-assign]
        result: list[object] = []
        claim_a = threading.Thread(target=lambda: result.append(
            host_a.claim_next_run("a:1:cpu", "cpu", "host-a")))
        claim_a.start()
        try:
            assert inside.wait(30)
            claimed_b = host_b.claim_next_run("b:1:cpu", "cpu", "host-b")
        finally:
            release.set()
            claim_a.join(30)
        (claimed_a,) = result
        assert claimed_a is not None and claimed_a.run_id == ids[0]
        assert claimed_b is not None and claimed_b.run_id == ids[1]
