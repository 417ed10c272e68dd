"""Real processes at once: nobody sees "database is locked", nothing is lost or doubled."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import procs
from support.procs import ChildGroup
from support.store import cfg

from storage import RunStore

pytestmark = pytest.mark.slow


def test_writer_two_readers_and_claimer_run_together_without_errors(
        db_path: Path, children: ChildGroup) -> None:
    url = str(db_path)
    with RunStore(url) as store:
        run_id = store.create_run(cfg())
        store.claim_next_run("writer")
    batches, batch = 150, 200
    children.add(procs.write_steps, url, run_id, batches, batch)
    for _ in range(2):
        children.add(procs.read_while, url, run_id, 3.0)
    children.add(procs.claim_and_queue, url, 3.0)
    out = children.go(timeout=90)
    errors = [tb for *_, tb in out if tb]
    assert not errors, errors[0]
    counts = {role: n for role, n, _ in out if role in ("writer", "claimer")}
    assert counts["writer"] == batches * batch and counts["claimer"] > 0
    assert all(n > 0 for role, n, _ in out if role == "reader")
    with RunStore(url) as store:
        assert [r.step for r in store.get_steps(run_id)] == list(range(batches * batch))


def test_workers_racing_claim_each_run_exactly_once(db_path: Path, children: ChildGroup) -> None:
    url = str(db_path)
    with RunStore(url) as store:
        ids = [store.create_run(cfg()) for _ in range(60)]
    for i in range(4):
        children.add(procs.claim_all, url, f"w{i}")
    out = children.go(timeout=60)
    assert not [tb for *_, tb in out if tb]
    claimed = [run_id for _, runs, _ in out for run_id in runs]
    assert sorted(claimed) == ids  # every run once, none twice
    with RunStore(url) as store:
        owners = {r.id: r.status for r in store.list_runs(limit=100)}
    assert set(owners.values()) == {"running"}


def test_processes_opening_a_fresh_database_at_once_all_succeed(
        tmp_path: Path, children: ChildGroup) -> None:
    url = str(tmp_path / "fresh.db")
    for _ in range(4):
        children.add(procs.open_store, url)
    out = children.go(timeout=60)
    assert [tb for status, tb in out if status != "ok"] == []
    with RunStore(url) as store:
        assert store.count_runs() == 4
