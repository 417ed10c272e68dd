"""Leases, the sweep for lost runs, automatic retry and the attempt history, at the store.

The clock is fixed and moved on by hand; whether a process is alive is a set of pids
the test decides, so every rule is checked without waiting or killing anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.clock import T0, FixedTime
from support.store import cfg, epoch, finished

from engine.events import RunStarted
from storage import InvalidRunState, RunStore
from storage.leases import lease_seconds, owner_of, pid_alive

HERE = "box-a"


def alive(*pids: int):
    """A liveness check that says yes only for ``pids``."""
    return lambda pid: pid in pids


def running(store: RunStore, worker_id: str, **create) -> int:
    run_id = store.create_run(cfg(), **create)
    claimed = store.claim_next_run(worker_id, "cpu", owner_of(worker_id)[0])
    assert claimed is not None and claimed.run_id == run_id
    return run_id


def test_a_live_local_process_keeps_its_run_however_long_it_is_silent(
        store: RunStore, clock: FixedTime) -> None:
    run_id = running(store, f"{HERE}:100:cpu")
    clock.advance(3600)  # an hour without a heartbeat: a very slow step, not a dead worker
    assert store.reap_lost_runs(HERE, alive(100), lease_s=30) == []
    assert store.get_run(run_id).status == "running"


def test_a_dead_local_process_loses_its_run_at_once(store: RunStore, clock: FixedTime) -> None:
    run_id = running(store, f"{HERE}:100:cpu")
    clock.advance(2)  # well inside the lease: the dead pid is proof enough
    [lost] = store.reap_lost_runs(HERE, alive(), lease_s=30)
    assert (lost.run_id, lost.status, lost.attempt) == (run_id, "interrupted", 1)
    run = store.get_run(run_id)
    assert run.status == "interrupted"
    assert run.error == (f"its worker on host {HERE}, pid 100, stopped answering 2 s ago; "
                         f"`cifar-tui resume {run_id}` continues it")
    assert store.reap_lost_runs(HERE, alive(), lease_s=30) == []  # once only


def test_a_remote_run_is_lost_only_after_its_lease(store: RunStore, clock: FixedTime) -> None:
    run_id = running(store, "box-b:100:cuda")
    clock.advance(29)
    assert store.reap_lost_runs(HERE, alive(), lease_s=30) == []
    store.heartbeat(run_id, "box-b:100:cuda")  # a renewal starts the lease again
    clock.advance(29)
    assert store.reap_lost_runs(HERE, alive(), lease_s=30) == []
    clock.advance(2)
    [lost] = store.reap_lost_runs(HERE, alive(), lease_s=30)
    assert lost.run_id == run_id and "on host box-b, pid 100, stopped answering 31 s ago" in (
        lost.reason)


def test_a_worker_id_without_a_pid_is_judged_by_its_lease(
        store: RunStore, clock: FixedTime) -> None:
    run_id = running(store, "w1")
    clock.advance(31)
    [lost] = store.reap_lost_runs(HERE, alive(), lease_s=30)
    assert lost.run_id == run_id and "its worker w1 stopped answering 31 s ago" in lost.reason


def test_a_lost_run_with_retries_left_is_requeued_from_its_last_checkpoint(
        store: RunStore, clock: FixedTime, tmp_path: Path) -> None:
    last = tmp_path / "last.pt"
    last.write_bytes(b"weights")
    run_id = running(store, f"{HERE}:100:cpu", max_retries=1)
    clock.advance(1)
    other = store.create_run(cfg())  # queued after the run above was
    store.record_epoch(run_id, epoch(1, 0.4))
    store.set_checkpoint(run_id, "last", str(last))
    clock.advance(5)
    [lost] = store.reap_lost_runs(HERE, alive(), lease_s=30)
    assert lost.status == "queued"
    run = store.get_run(run_id)
    assert (run.status, run.attempt, run.resume_checkpoint) == ("queued", 2, str(last))
    assert run.error.endswith("; requeued automatically (attempt 2 of 2)")
    assert len(run.epoch_rows) == 1  # nothing lost
    # Recovery goes first: its place in the queue was kept.
    claimed = store.claim_next_run(f"{HERE}:200:cpu", "cpu", HERE)
    assert claimed.run_id == run_id and claimed.resume_checkpoint == str(last)
    assert store.get_run(run_id).error is None
    assert store.claim_next_run(f"{HERE}:200:cpu").run_id == other


def test_retries_run_out_and_each_attempt_is_a_row(store: RunStore, clock: FixedTime) -> None:
    run_id = running(store, f"{HERE}:100:cpu", max_retries=1)
    clock.advance(3)
    assert [r.status for r in store.reap_lost_runs(HERE, alive(), lease_s=30)] == ["queued"]
    assert store.get_run(run_id).resume_checkpoint is None  # no checkpoint: from the start
    store.claim_next_run(f"{HERE}:200:cuda", "auto", HERE)
    store.record_start(run_id, RunStarted(
        config={}, device="cuda:0", host=HERE, torch_version="2", num_params=1, num_train=1,
        num_val=0, num_test=1, steps_per_epoch=1, total_steps=1))
    clock.advance(4)
    [lost] = store.reap_lost_runs(HERE, alive(), lease_s=30)  # attempt 2 of 2: no more
    assert (lost.status, lost.attempt) == ("interrupted", 2)
    run = store.get_run(run_id)
    assert run.status == "interrupted" and "resume" in run.error
    rows = [(a.attempt, a.worker_id, a.device, a.outcome) for a in run.attempts]
    assert rows == [(1, f"{HERE}:100:cpu", "cpu", "interrupted"),
                    (2, f"{HERE}:200:cuda", "cuda:0", "interrupted")]
    assert run.attempts[0].started_at == T0 and run.attempts[1].ended_at == run.finished_at
    assert run.attempts[1].reason == (
        f"its worker on host {HERE}, pid 200, stopped answering 4 s ago")


def test_a_manual_resume_opens_the_next_attempt_and_the_end_closes_it(
        store: RunStore, clock: FixedTime) -> None:
    run_id = running(store, f"{HERE}:100:cpu")
    store.mark_interrupted(run_id, "the worker was stopped")
    store.requeue_for_resume(run_id, None)
    store.claim_next_run(f"{HERE}:101:cpu", "cpu", HERE)
    clock.advance(60)
    store.finish_run(run_id, finished(best=0.5))
    run = store.get_run(run_id)
    assert [(a.attempt, a.outcome) for a in run.attempts] == [(1, "interrupted"),
                                                              (2, "completed")]
    assert run.attempts[0].reason == "the worker was stopped"
    assert (run.attempts[1].ended_at - run.attempts[1].started_at).total_seconds() == 60


def test_mark_interrupted_requeues_while_retries_last(store: RunStore) -> None:
    run_id = running(store, f"{HERE}:100:cpu", max_retries=2)
    assert store.mark_interrupted(run_id, "stopped by SIGTERM").status == "queued"
    store.claim_next_run(f"{HERE}:100:cpu")
    assert store.mark_interrupted(run_id, "stopped by SIGTERM").reason.endswith(
        "(attempt 3 of 3)")
    store.claim_next_run(f"{HERE}:100:cpu")
    assert store.mark_interrupted(run_id, "stopped by SIGTERM").status == "interrupted"
    assert [a.outcome for a in store.get_run(run_id).attempts] == ["interrupted"] * 3


def test_a_foreground_run_has_its_first_attempt_from_the_start(store: RunStore) -> None:
    run_id = store.create_run(cfg(), claimed_by=f"{HERE}:77:foreground", max_retries=3)
    run = store.get_run(run_id)
    assert (run.status, run.max_retries, run.attempt) == ("running", 3, 1)
    [only] = run.attempts
    assert (only.host, only.worker_id, only.outcome) == (HERE, f"{HERE}:77:foreground", None)


def test_retries_beyond_the_bound_are_refused(store: RunStore) -> None:
    with pytest.raises(InvalidRunState, match="retries must be from 0 to 100"):
        store.create_run(cfg(), max_retries=101)


def test_a_cancel_asked_of_a_lost_run_ends_it_cancelled_not_requeued(
        store: RunStore, clock: FixedTime) -> None:
    run_id = running(store, "box-b:100:cpu", max_retries=1)
    assert store.request_cancel(run_id) == "cancelling"  # its remote holder may still answer
    clock.advance(31)
    [lost] = store.reap_lost_runs(HERE, alive(), lease_s=30)
    assert lost.status == "cancelled" and store.get_run(run_id).status == "cancelled"
    assert store.get_run(run_id).attempts[0].outcome == "cancelled"


def test_cancel_of_a_run_whose_process_is_gone_ends_it_at_once(store: RunStore) -> None:
    import socket

    dead = _dead_pid()
    run_id = running(store, f"{socket.gethostname()}:{dead}:cpu")
    assert store.request_cancel(run_id) == "cancelled"
    assert store.get_run(run_id).status == "cancelled"
    interrupted = running(store, "box-b:1:cpu")
    store.mark_interrupted(interrupted, "gone")
    assert store.request_cancel(interrupted) == "cancelled"


def test_a_run_that_ended_between_read_and_write_is_left_alone(store: RunStore) -> None:
    run_id = running(store, f"{HERE}:100:cpu")

    def finishes_first(pid: int) -> bool:  # asked between the sweep's read and its write
        store.finish_run(run_id, finished())
        return False

    assert store.reap_lost_runs(HERE, finishes_first, lease_s=30) == []
    assert store.get_run(run_id).status == "completed"


def test_lease_length_and_liveness_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("CIFAR_TUI_LEASE_SECONDS", "2.5")
    assert lease_seconds() == 2.5
    for bad in ("0", "-1", "nan", "soon"):
        monkeypatch.setenv("CIFAR_TUI_LEASE_SECONDS", bad)
        assert lease_seconds() == 30.0
    assert pid_alive(os.getpid()) and not pid_alive(_dead_pid())
    assert owner_of("h:12:cpu") == ("h", 12) and owner_of("w1") == ("w1", None)


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_killed_but_unreaped_process_counts_as_dead() -> None:
    import subprocess
    import sys

    from support.e2e import wait_for

    def state(pid: int) -> str:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert pid_alive(child.pid)
        child.kill()  # not waited for: a zombie, which still answers signal 0
        wait_for(lambda: state(child.pid) == "Z", timeout=10, what="the child to be a zombie")
        assert not pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()
