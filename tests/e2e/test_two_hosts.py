"""Two hosts, one store, with real processes: two workers with their own app homes and
host names (CIFAR_TUI_HOME, CIFAR_TUI_HOST) share a store and, where said, one artifact
folder. They drain one queue, each run claimed once; a host that vanishes (kill -9 of its
worker and training child) has its run requeued once its lease expires and resumed by the
other host from its checkpoint; without a shared folder the resume waits for its host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.data import REPO
from support.e2e import TINY, cli, kill_worker, two_epochs_and_a_checkpoint, wait_for
from support.store import PG_URL, empty_postgres

from storage import RunStore

NEEDS_PG = pytest.mark.skipif(
    not PG_URL, reason="no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL; .ci/run starts one)")
SHORT_LEASE = "3"  # seconds: how long a surviving host waits on a silent one


class Host:
    """One simulated machine: its own app home (lock files, logs) and host name."""

    def __init__(self, name: str, root: Path, db_url: str):
        self.name, self.home, self.db_url = name, root / name, db_url
        self.home.mkdir()
        self.log = root / f"{name}.log"

    def env(self, **extra: str) -> dict[str, str]:
        # The URL travels in the environment, as the launcher passes it: never on argv.
        return {**os.environ, "CIFAR_TUI_HOME": str(self.home), "CIFAR_TUI_HOST": self.name,
                "CIFAR_TUI_DB": self.db_url, **extra}

    def start_worker(self, *args: str, **env: str) -> subprocess.Popen:
        with open(self.log, "ab") as fh:
            return subprocess.Popen(
                [sys.executable, "-m", "cifar_tui", "worker", "--device", "cpu", *args],
                cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=self.env(**env))

    def claimed(self) -> list[int]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [int(line.split("run ")[1].split(":")[0]) for line in lines
                if "training in pid" in line]


@pytest.fixture
def pg_url() -> str:
    assert PG_URL is not None
    empty_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def workers(procs: list[subprocess.Popen]) -> list[subprocess.Popen]:
    """The hosts' workers: e2e's ``procs``, killed at the end whatever happens."""
    return procs


def queue(db_url: str, *extra: str) -> int:
    out = cli("queue", "--db", db_url, "--no-worker", *TINY, *extra).stdout
    return int(out.split("queued run ")[1].split()[0].rstrip(";"))


def share_artifacts(db_url: str, folder: Path) -> Path:
    cli("store", "--db", db_url, "--artifact-root", str(folder))
    return folder.resolve()


def assert_every_epoch_once(store: RunStore, run_id: int, epochs: int) -> None:
    run = store.get_run(run_id)
    assert run.status == "completed", run.error
    assert [e.epoch for e in run.epoch_rows] == list(range(1, epochs + 1))
    steps = [s.step for s in store.get_steps(run_id)]
    assert steps == list(range(steps[0], run.total_steps + 1))  # none missing, none twice


def drain_with_two_hosts(db_url: str, tmp_path: Path, workers: list) -> None:
    shared = share_artifacts(db_url, tmp_path / "shared")
    ids = [queue(db_url, "--epochs", "3", "--seed", str(i)) for i in range(6)]
    hosts = [Host(name, tmp_path, db_url) for name in ("host-a", "host-b")]
    # Workers that poll rather than --exit-when-empty: a claim racing another host's claim
    # may find every queued row locked, which is "nothing now", not "the queue is empty".
    # host-b starts once host-a trains, so both take part whatever their start-up times.
    workers.append(hosts[0].start_worker())
    wait_for(hosts[0].claimed, timeout=120, what="host-a's first claim")
    workers.append(hosts[1].start_worker())
    with RunStore(db_url) as store:
        wait_for(lambda: all(store.get_run(i).status not in ("queued", "running") for i in ids),
                 timeout=400, what="both hosts to drain the queue")
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        assert proc.wait(timeout=60) == 0
    claims = [h.claimed() for h in hosts]
    assert sorted(claims[0] + claims[1]) == sorted(ids)  # each run claimed exactly once
    assert all(claims), f"both hosts trained: {claims}"
    with RunStore(db_url) as store:
        for run_id in ids:
            run = store.get_run(run_id)
            assert run.status == "completed", run.error
            [attempt] = run.attempts
            assert attempt.host == run.host and run_id in claims[
                ("host-a", "host-b").index(attempt.host)]
            assert Path(run.checkpoints["last"]).is_relative_to(shared)


@NEEDS_PG
def test_two_hosts_drain_six_runs_on_postgres_each_claimed_once(
        pg_url: str, tmp_path: Path, workers) -> None:
    drain_with_two_hosts(pg_url, tmp_path, workers)
    password = pg_url.split("@")[0].rsplit(":", 1)[1]
    for log in tmp_path.glob("host-*.log"):  # the worker names its store, password masked
        text = log.read_text()
        assert "***@" in text and f":{password}@" not in text


def test_two_hosts_drain_six_runs_on_one_sqlite_file(tmp_path: Path, workers) -> None:
    drain_with_two_hosts(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path, workers)


def host_a_mid_run(pg_url: str, tmp_path: Path, workers):  # noqa: ANN201
    """A 40-epoch run that host-a's worker has trained two epochs of, with a checkpoint."""
    run_id = queue(pg_url, "--epochs", "40", "--retries", "1")
    host_a, host_b = Host("host-a", tmp_path, pg_url), Host("host-b", tmp_path, pg_url)
    worker_a = host_a.start_worker()
    workers.append(worker_a)
    store = RunStore(pg_url)
    wait_for(lambda: two_epochs_and_a_checkpoint(store, run_id), timeout=180,
             what="two epochs and a checkpoint on host-a")
    return run_id, host_a, host_b, worker_a, store


@NEEDS_PG
def test_a_vanished_host_run_is_resumed_by_the_other_from_its_checkpoint(
        pg_url: str, tmp_path: Path, workers) -> None:
    shared = share_artifacts(pg_url, tmp_path / "shared")
    run_id, host_a, host_b, worker_a, store = host_a_mid_run(pg_url, tmp_path, workers)
    kill_worker(worker_a)  # host-a vanishes: its worker and training child, kill -9
    worker_b = host_b.start_worker(CIFAR_TUI_LEASE_SECONDS=SHORT_LEASE)
    workers.append(worker_b)
    wait_for(lambda: store.get_run(run_id).status in ("completed", "failed", "interrupted"),
             timeout=300, what="host-b to finish the run")
    worker_b.send_signal(signal.SIGTERM)
    assert worker_b.wait(timeout=60) == 0
    assert_every_epoch_once(store, run_id, 40)
    run = store.get_run(run_id)
    assert Path(run.resume_checkpoint).is_relative_to(shared)  # went on, did not start over
    assert [(a.host, a.outcome) for a in run.attempts] == [("host-a", "interrupted"),
                                                           ("host-b", "completed")]
    assert f"on host host-a, pid {worker_a.pid}, stopped answering" in run.attempts[0].reason
    assert host_b.claimed() == [run_id] and host_a.claimed() == [run_id]
    store.close()


@NEEDS_PG
def test_without_a_shared_folder_the_resume_waits_for_the_host_with_the_checkpoint(
        pg_url: str, tmp_path: Path, workers) -> None:
    run_id, host_a, host_b, worker_a, store = host_a_mid_run(pg_url, tmp_path, workers)
    kill_worker(worker_a)
    # Both hosts are one machine here: host-a's disk leaves with it, so host-b cannot see
    # the checkpoint under host-a's app home (its default artifact root).
    away = host_a.home.rename(host_a.home.with_name("host-a-away"))
    worker_b = host_b.start_worker(CIFAR_TUI_LEASE_SECONDS=SHORT_LEASE)
    workers.append(worker_b)
    wait_for(lambda: store.get_run(run_id).status == "queued", timeout=120,
             what="host-b to requeue host-a's run")
    checkpoint = store.get_run(run_id).resume_checkpoint
    assert checkpoint and Path(checkpoint).is_relative_to(host_a.home)  # kept, not dropped
    away.rename(host_a.home)
    workers.append(host_a.start_worker())  # host-a is back: it resumes while host-b waits
    wait_for(lambda: store.get_run(run_id).status == "completed", timeout=300,
             what="host-a to resume and finish the run")
    assert_every_epoch_once(store, run_id, 40)
    run = store.get_run(run_id)
    assert [(a.host, a.outcome) for a in run.attempts] == [("host-a", "interrupted"),
                                                           ("host-a", "completed")]
    assert host_b.claimed() == []
    store.close()


@NEEDS_PG
def test_two_hosts_drain_one_tpe_sweep_each_trial_asked_and_told_once(
        pg_url: str, tmp_path: Path, workers: list) -> None:
    from engine.sweep_spec import ParamRange, SweepSpec
    from storage.studies import trial_states
    from worker.sweeps import queue_sweep, study_of

    spec = SweepSpec(method="tpe", trials=4, ranges={"max_lr": ParamRange(1e-3, 1e-1, log=True)},
                     fixed=dict(dataset="synthetic", limit_train=64, width_mult=0.125,
                                batch_size=16, device="cpu", epochs=2))
    with RunStore(pg_url) as store:
        sweep_id, _ = queue_sweep(store, spec)
        hosts = [Host(name, tmp_path, pg_url) for name in ("host-a", "host-b")]
        workers.append(hosts[0].start_worker())
        wait_for(hosts[0].claimed, timeout=120, what="host-a's first trial")
        workers.append(hosts[1].start_worker())  # asks its own trial while host-a trains
        wait_for(lambda: store.get_sweep(sweep_id).status == "completed", timeout=400,
                 what="the two hosts to finish the sweep")
        record = store.get_sweep(sweep_id)
        runs = store.sweep_runs(sweep_id)
        states = trial_states(study_of(store, record))
    claims = [h.claimed() for h in hosts]
    assert all(claims), f"both hosts trained: {claims}"
    assert sorted(claims[0] + claims[1]) == sorted(r.run_id for r in runs)  # each once
    assert sorted(r.trial_number for r in runs) == [0, 1, 2, 3] == sorted(states)
    assert {s for s, _, _ in states.values()} == {"complete"}
    assert (record.trials_asked, record.trials_told) == (4, 4)
