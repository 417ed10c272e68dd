"""The worker with real processes: draining, cancelling, crashes, kill -9 and resume."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from support.e2e import TINY, cli, start_worker, training_children, wait_for

from storage import RunStore


def queue(*extra: str) -> int:
    out = cli("queue", "--no-worker", *TINY, *extra).stdout
    return int(out.split("queued run ")[1].split()[0].rstrip(";"))


def test_worker_drains_three_queued_runs_then_exits(tmp_path: Path) -> None:
    ids = [queue("--epochs", "2", "--seed", str(i)) for i in range(3)]
    cli("worker", "--device", "cpu", "--exit-when-empty", timeout=240)
    store = RunStore()
    for run_id in ids:
        run = store.get_run(run_id)
        assert run.status == "completed", run.error
        assert [e.epoch for e in run.epoch_rows] == [1, 2]
        assert run.best_val_acc is not None and run.test_acc is not None
        assert store.get_steps(run_id), "step metrics were recorded"


def test_cancel_running_run_stops_it_and_keeps_metrics(tmp_path: Path, procs) -> None:
    run_id = queue("--epochs", "400")
    worker = start_worker("--device", "cpu", "--exit-when-empty", log=tmp_path / "w.log")
    procs.append(worker)
    store = RunStore()
    wait_for(lambda: len(store.get_steps(run_id)) >= 5, what="steps to arrive in the store")
    # A viewer polling the store sees steps arrive while the run trains, not only at the end.
    # How soon they arrive is measured by benchmarks/worker_latency.py, not asserted here.
    seen = len(store.get_steps(run_id))
    wait_for(lambda: len(store.get_steps(run_id)) > seen, what="more steps while it trains")
    assert store.get_run(run_id).status == "running"
    cli("cancel", str(run_id))
    wait_for(lambda: store.get_run(run_id).status == "cancelled", timeout=30,
             what="the run to be cancelled")
    assert len(store.get_steps(run_id)) >= 5
    assert worker.wait(timeout=30) == 0


def test_killed_training_child_interrupts_the_run_and_the_next_run_trains(
        tmp_path: Path, procs) -> None:
    doomed = queue("--epochs", "400", "--retries", "0")
    survivor = queue("--epochs", "1")
    worker = start_worker("--device", "cpu", "--exit-when-empty", log=tmp_path / "w.log")
    procs.append(worker)
    store = RunStore()
    wait_for(lambda: store.get_steps(doomed), what="the first run to train")
    children = wait_for(lambda: training_children(worker.pid), what="the training child")
    os.kill(children[0], signal.SIGKILL)
    assert worker.wait(timeout=120) == 0
    failed = store.get_run(doomed)
    assert failed.status == "interrupted"
    assert "killed by SIGKILL" in failed.error and f"resume {doomed}" in failed.error
    assert store.get_run(survivor).status == "completed"


def test_killed_worker_leaves_run_interrupted_and_resume_finishes_it(tmp_path: Path, procs) -> None:
    run_id = queue("--epochs", "40", "--retries", "0")  # test_recovery.py: the automatic way
    worker = start_worker("--device", "cpu", log=tmp_path / "w1.log")
    procs.append(worker)
    store = RunStore()
    wait_for(lambda: len(store.get_run(run_id).epoch_rows) >= 2
             and store.get_run(run_id).checkpoints.get("last"), what="two epochs and a checkpoint")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    # The next worker sees the dead worker's run and marks it interrupted.
    cli("worker", "--device", "cpu", "--exit-when-empty", timeout=60)
    interrupted = store.get_run(run_id)
    assert interrupted.status == "interrupted"
    kept = len(interrupted.epoch_rows)
    assert kept >= 2
    out = cli("resume", str(run_id), "--no-worker").stdout
    assert "last.pt" in out
    cli("worker", "--device", "cpu", "--exit-when-empty", timeout=240)
    done = store.get_run(run_id)
    assert done.status == "completed", done.error
    assert [e.epoch for e in done.epoch_rows] == list(range(1, 41))


def test_two_workers_claim_each_of_four_runs_exactly_once(tmp_path: Path, procs) -> None:
    ids = [queue("--epochs", "3", "--seed", str(i)) for i in range(4)]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [start_worker("--device", dev, "--exit-when-empty", log=log)
               for dev, log in zip(("cpu", "auto"), logs, strict=True)]
    procs.extend(workers)
    for w in workers:
        assert w.wait(timeout=300) == 0
    claims = [line for log in logs for line in log.read_text().splitlines()
              if "training in pid" in line]
    claimed_ids = sorted(int(line.split("run ")[1].split(":")[0]) for line in claims)
    assert claimed_ids == sorted(ids)
    store = RunStore()
    assert all(store.get_run(i).status == "completed" for i in ids)


def test_worker_started_by_queue_outlives_the_launching_process(tmp_path: Path) -> None:
    from worker import launcher

    out = cli("queue", *TINY, "--epochs", "1").stdout
    assert "started a worker" in out
    run_id = int(out.split("queued run ")[1].split(";")[0])
    store = RunStore()
    # auto here; on a GPU box the launcher starts one worker for every GPU instead.
    info = wait_for(lambda: launcher.any_live_worker(store.store_id),
                    what="the detached worker")
    cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes()
    # The store URL (maybe with a password) travels in the environment, not on the command line.
    assert b"--db" not in cmdline
    try:
        wait_for(lambda: store.get_run(run_id).status == "completed", timeout=120,
                 what="the run to complete")
        status = cli("worker", "--status").stdout
        assert f"pid {info.pid}" in status
    finally:
        cli("worker", "--stop")
    assert launcher.any_live_worker(store.store_id) is None
