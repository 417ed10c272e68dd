"""One worker process on several devices, with real training children. There is no GPU
here, so the devices are CPU "devices" (cpu:0, cpu:1) and the out-of-memory is faked."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from support.e2e import TINY, cli, start_worker, wait_for
from support.workers import FAKE_OOM, oom_once_child

from engine.config import config_from_preset
from engine.paths import host_name
from storage import RunStore
from storage.records import AttemptRow
from worker import launcher
from worker.supervisor import Worker, WorkerOptions


def queue(*extra: str) -> int:
    out = cli("queue", "--no-worker", *TINY, *extra).stdout
    return int(out.split("queued run ")[1].split()[0].rstrip(";"))


def interval(attempt: AttemptRow) -> tuple[datetime, datetime]:
    assert attempt.ended_at is not None
    return attempt.started_at, attempt.ended_at


def overlap(a: AttemptRow, b: AttemptRow) -> bool:
    (a0, a1), (b0, b1) = interval(a), interval(b)
    return a0 < b1 and b0 < a1


def test_two_cpu_devices_drain_four_runs_at_once_each_claimed_once(tmp_path: Path) -> None:
    ids = [queue("--epochs", "1", "--seed", str(i)) for i in range(4)]
    out = cli("worker", "--devices", "cpu:0,cpu:1", "--exit-when-empty", timeout=300).stdout
    assert "(devices cpu:0, cpu:1)" in out
    store = RunStore()
    runs = [store.get_run(i) for i in ids]
    assert all(run.status == "completed" for run in runs), [run.error for run in runs]
    assert all(len(run.attempts) == 1 for run in runs)  # each claimed exactly once
    # The worker id (host:pid:device) names the slot; the run's device is what torch used.
    ids_seen = {run.attempts[0].worker_id for run in runs}
    assert {w.split(":", 2)[2] for w in ids_seen} == {"cpu:0", "cpu:1"}
    assert {run.device for run in runs} == {"cpu"}
    attempts = [run.attempts[0] for run in runs]
    assert any(overlap(a, b) for a in attempts for b in attempts if a is not b), \
        "the two devices trained at the same time"


def test_two_runs_share_one_device_with_runs_per_device_2(tmp_path: Path) -> None:
    ids = [queue("--epochs", "1", "--seed", str(i)) for i in range(2)]
    cli("worker", "--devices", "cpu:0", "--runs-per-device", "2", "--exit-when-empty",
        timeout=300)
    store = RunStore()
    first, second = (store.get_run(i) for i in ids)
    assert first.status == second.status == "completed"
    assert {first.attempts[0].worker_id.rpartition(":")[2],
            second.attempts[0].worker_id.rpartition(":")[2]} == {"0", "0#1"}
    assert overlap(first.attempts[0], second.attempts[0])


def test_a_cpu_only_worker_leaves_cuda_runs_queued_and_says_so(
        tmp_path: Path, procs: list) -> None:
    wants_gpu = queue("--epochs", "1", "--device", "cuda:1")
    plain = queue("--epochs", "1")
    log = tmp_path / "w.log"
    worker = start_worker("--devices", "all", log=log)  # no GPU here: the CPU
    procs.append(worker)
    store = RunStore()
    wait_for(lambda: store.get_run(plain).status == "completed", timeout=120,
             what="the CPU run to complete")
    wait_for(lambda: "ask for cuda:1" in log.read_text(), what="the worker to say why")
    assert "1 queued run(s) ask for cuda:1, which this worker (cpu) does not serve" in \
        log.read_text()
    status = cli("worker", "--status").stdout
    assert f"worker for cpu: pid {worker.pid}" in status and "  cpu      idle" in status
    assert "1 queued run(s) of this store ask for cuda:1" in status
    assert store.get_run(wants_gpu).status == "queued"
    assert "worker for cpu stopped" in cli("worker", "--stop").stdout
    assert worker.wait(timeout=30) == 0


def test_two_workers_never_serve_one_device(tmp_path: Path, procs: list) -> None:
    first = start_worker("--devices", "cpu:0,cpu:1", log=tmp_path / "a.log")
    procs.append(first)
    store = RunStore()
    wait_for(lambda: launcher.live_worker(store.store_id, "cpu:1"), what="the first worker")
    second = cli("worker", "--devices", "cpu:1,cpu:2", "--exit-when-empty", timeout=120)
    assert "cpu:1: another worker of this store serves it; skipped" in second.stdout
    assert "(devices cpu:2)" in second.stdout
    again = cli("worker", "--devices", "cpu:0,cpu:1", check=False)
    assert again.returncode == 3 and "already running" in again.stdout
    assert "worker for cpu:0, cpu:1 stopped" in cli("worker", "--stop").stdout
    assert first.wait(timeout=30) == 0


def test_a_run_out_of_memory_while_sharing_trains_again_alone(tmp_path: Path) -> None:
    store = RunStore()
    tiny = dict(dataset="synthetic", limit_train=64, width_mult=0.125, batch_size=16,
                device="cpu", log_every=1)
    partner = store.create_run(config_from_preset("seed", epochs=2, name="partner", **tiny))
    doomed = store.create_run(config_from_preset("seed", epochs=1, name="oom-1", **tiny))
    options = WorkerOptions(db_url=store.url, devices=["cpu:0"], runs_per_device=2,
                            exit_when_empty=True, poll_seconds=0.2,
                            child_target=oom_once_child)
    assert Worker(options, store=store).run() == 0
    run, other = store.get_run(doomed), store.get_run(partner)
    assert run.status == other.status == "completed", (run.error, other.error)
    failed, alone = run.attempts
    assert failed.outcome == "failed"
    assert failed.reason == f"{FAKE_OOM} (while sharing cpu:0); requeued to train alone"
    assert overlap(failed, other.attempts[0])  # it did share the device
    assert alone.outcome == "completed" and not overlap(alone, other.attempts[0])
    assert len(other.attempts) == 1
    assert alone.worker_id.startswith(f"{host_name()}:{os.getpid()}:cpu:0")
