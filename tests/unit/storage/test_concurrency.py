"""Real processes at once: nobody sees "database is locked", nothing is lost or doubled."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
import storage_procs
from store_helpers import cfg

from storage import RunStore

pytestmark = pytest.mark.slow
CTX = mp.get_context("spawn")


def test_writer_two_readers_and_claimer_run_together_without_errors(db_path: Path) -> None:
    url = str(db_path)
    with RunStore(url) as store:
        run_id = store.create_run(cfg())
        store.claim_next_run("writer")
    start, results = CTX.Event(), CTX.Queue()
    batches, batch = 150, 200
    procs = [CTX.Process(target=storage_procs.write_steps, args=(url, run_id, batches, batch, start, results))]
    procs += [CTX.Process(target=storage_procs.read_while, args=(url, run_id, 3.0, start, results))
              for _ in range(2)]
    procs.append(CTX.Process(target=storage_procs.claim_and_queue, args=(url, 3.0, start, results)))
    for p in procs:
        p.start()
    start.set()
    out = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [tb for *_, tb in out if tb]
    assert not errors, errors[0]
    counts = {role: n for role, n, _ in out if role in ("writer", "claimer")}
    assert counts["writer"] == batches * batch and counts["claimer"] > 0
    assert all(n > 0 for role, n, _ in out if role == "reader")
    with RunStore(url) as store:
        assert [r.step for r in store.get_steps(run_id)] == list(range(batches * batch))


def test_workers_racing_claim_each_run_exactly_once(db_path: Path) -> None:
    url = str(db_path)
    with RunStore(url) as store:
        ids = [store.create_run(cfg()) for _ in range(60)]
    start, results = CTX.Event(), CTX.Queue()
    procs = [CTX.Process(target=storage_procs.claim_all, args=(url, f"w{i}", start, results))
             for i in range(4)]
    for p in procs:
        p.start()
    start.set()
    out = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert not [tb for *_, tb in out if tb]
    claimed = [run_id for _, runs, _ in out for run_id in runs]
    assert sorted(claimed) == ids  # every run once, none twice
    with RunStore(url) as store:
        owners = {r.id: r.status for r in store.list_runs(limit=100)}
    assert set(owners.values()) == {"running"}


def test_processes_opening_a_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    url = str(tmp_path / "fresh.db")
    start, results = CTX.Event(), CTX.Queue()
    procs = [CTX.Process(target=storage_procs.open_store, args=(url, start, results))
             for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    out = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [tb for status, tb in out if status != "ok"] == []
    with RunStore(url) as store:
        assert store.count_runs() == 4
