"""`cifar-tui slurm` without a cluster: what --dry-run prints, the one-line refusals of
bad input and unreachable stores, Slurm's --time forms, and the Slurm job id a run's
worker id carries (as the detail screen and `show` read it)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import datetime

import pytest
from support.data import REPO

from cli.slurm import slurm_minutes, store_reach_problem
from storage.records import AttemptRow
from tui.screens.detail import attempts_lines, slurm_job_of, slurm_jobs

T0 = datetime(2026, 1, 1)


def slurm_cli(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "CIFAR_TUI_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "cifar_tui", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_dry_run_prints_the_job_script_and_worker_command_and_submits_nothing(tmp_path) -> None:
    db = tmp_path / "runs.db"
    proc = slurm_cli("--db", str(db), "slurm", "--workers", "3", "--gpus-per-worker", "2",
                     "--partition", "gpu", "--time", "1-02:30:00", "--dry-run", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "would submit 3 Slurm job(s)" in out and "nothing submitted" in out
    assert "gpus_per_node=2" in out and "partition=gpu" in out and "time=1590" in out
    assert "cifar_tui worker --devices all --exit-when-empty" in out
    assert "#SBATCH --gpus-per-node=2" in out and "#SBATCH --partition=gpu" in out
    assert "#SBATCH --signal=USR2@90" in out  # submitit's warning before the time limit
    assert "submitit.core._submit" in out
    assert str(db) not in out.split("each job runs:")[1].splitlines()[0]  # URL via env only
    assert not (tmp_path / "slurm" / "logs").exists()  # nothing written for submitit


def test_dry_run_on_a_cpu_cluster_asks_for_no_gpus(tmp_path) -> None:
    proc = slurm_cli("--db", str(tmp_path / "runs.db"), "slurm", "--workers", "1",
                     "--gpus-per-worker", "0", "--dry-run", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "gpus_per_node" not in proc.stdout and "--gpus-per-node" not in proc.stdout
    assert "cifar_tui worker --devices cpu --exit-when-empty" in proc.stdout  # no GPU it
    # was not given, even on a node whose GPUs Slurm does not hide


@pytest.mark.parametrize("args, words", [
    (["--workers", "0"], "--workers: expected a whole number from 1"),
    (["--workers", "two"], "--workers: expected a whole number"),
    (["--workers", "1", "--gpus-per-worker", "-1"], "--gpus-per-worker: expected"),
    (["--workers", "1", "--time", "4:xx"], "--time: expected a Slurm time"),
    (["--workers", "1", "--time", "0"], "--time: expected a time from 1 minute"),
    ([], "the following arguments are required: --workers"),
])
def test_bad_arguments_are_one_line_and_exit_code_2(tmp_path, args, words) -> None:
    proc = slurm_cli("--db", str(tmp_path / "runs.db"), "slurm", *args, "--dry-run",
                     home=tmp_path)
    assert proc.returncode == 2
    assert words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_an_in_memory_store_is_refused_in_one_line(tmp_path) -> None:
    proc = slurm_cli("--db", "sqlite://", "slurm", "--workers", "1", "--dry-run", home=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "cifar-tui: error: an in-memory SQLite store cannot be shared with Slurm jobs; use a "
        "SQLite file on a shared file system or PostgreSQL (--db URL)"]


@pytest.mark.parametrize("url, refused, warned", [
    ("sqlite://", True, False),
    ("sqlite:///:memory:", True, False),
    ("sqlite:////tmp/runs.db", False, True),
    ("sqlite:////dev/shm/runs.db", False, True),
    ("sqlite:////home/me/runs.db", False, False),
    ("postgresql+psycopg://me:pw@localhost/runs", False, True),
    ("postgresql:///runs", False, True),
    ("postgresql+psycopg://me:pw@db.cluster.example/runs", False, False),
])
def test_stores_the_nodes_cannot_reach_are_refused_or_warned(url, refused, warned) -> None:
    refusal, warning = store_reach_problem(url)
    assert (refusal is not None, warning is not None) == (refused, warned)
    assert "pw" not in (refusal or "") + (warning or "")


@pytest.mark.parametrize("text, minutes", [
    ("90", 90), ("90:30", 91), ("4:00:00", 240), ("0:00:30", 1),
    ("1-12", 36 * 60), ("1-02:30", 26 * 60 + 30), ("2-00:00:00", 2880),
])
def test_slurm_time_forms_read_as_minutes(text, minutes) -> None:
    assert slurm_minutes(text) == minutes


@pytest.mark.parametrize("text", ["", "4h", "1:2:3:4", "-5", "1-", "0", "400-00:00:00"])
def test_slurm_time_rejects_what_slurm_would_not_take(text) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        slurm_minutes(text)


@pytest.mark.parametrize("worker_id, job", [
    ("node7:4242:cuda:0@slurm:123456", "123456"),
    ("node7:4242:cpu#1@slurm:77_3", "77_3"),  # an array task, a second slot
    ("node7:4242:cuda:1", None),
    ("test-worker", None),
    (None, None),
])
def test_the_slurm_job_is_read_from_the_worker_id(worker_id, job) -> None:
    assert slurm_job_of(worker_id) == job


def test_a_run_lists_each_slurm_job_that_trained_it_once_in_order() -> None:
    from types import SimpleNamespace

    tries = [AttemptRow(1, "n1:1:cpu@slurm:41", "n1", "cpu", T0, T0, "interrupted", "requeue"),
             AttemptRow(2, "n2:5:cpu@slurm:40", "n2", "cpu", T0, T0, "interrupted", "preempted"),
             AttemptRow(3, "n1:9:cpu@slurm:41", "n1", "cpu", T0, None, None, None)]
    run = SimpleNamespace(attempts=tries, worker_id="n1:9:cpu@slurm:41")
    assert slurm_jobs(run) == ["41", "40"]  # type: ignore[arg-type]
    lines = [str(line) for line in attempts_lines(run)]  # type: ignore[arg-type]
    assert "on n1 cpu (slurm job 41)" in lines[0] and "(slurm job 40)" in lines[1]
    plain = SimpleNamespace(attempts=[], worker_id="box:3:cpu")
    assert slurm_jobs(plain) == []  # type: ignore[arg-type]
