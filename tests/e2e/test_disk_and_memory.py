"""A full disk and too little memory, met as a user meets them: one line naming the
problem and the fix, no traceback, nothing already stored lost, no partial file left.

The full disks are real: a small tmpfs (root only; skipped with the reason elsewhere).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from support.disk import fill, small_tmpfs
from support.e2e import REPO, TINY, cli, start_worker, wait_for

from engine.config import config_from_preset
from engine.events import RunFailed
from storage import RunStore


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("cifar-tui: "), proc.stderr
    return proc.stderr.strip()


# -- a full disk ---------------------------------------------------------------------


def test_a_checkpoint_that_does_not_fit_fails_the_run_as_disk_full(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "ckpt", "1m") as ckpt:
        # width 0.5: a checkpoint of about 20 MB for a 1 MB disk; the store lives elsewhere
        proc = cli("train", *TINY, "--width-mult", "0.5", "--epochs", "1",
                   "--checkpoint-dir", str(ckpt), check=False, timeout=180)
        left = sorted(p.name for p in ckpt.iterdir())
    line = one_line(proc)
    assert proc.returncode == 1
    assert "disk full writing checkpoint" in line and "MB needed" in line
    assert "cifar-tui store --artifact-root PATH" in line
    assert "unexpected pos" not in line
    assert left == []  # no partial last.tmp filling the disk
    run = RunStore().get_run(1)
    assert run.status == "failed" and run.error.startswith("disk full writing checkpoint")
    assert len(run.epoch_rows) == 1  # the epoch trained before the save is kept


def test_the_worker_fails_only_the_run_whose_checkpoint_does_not_fit(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "artifacts", "4m") as root:
        cli("store", "--artifact-root", str(root))
        cli("queue", "--no-worker", *TINY, "--width-mult", "0.5", "--epochs", "1")  # ~20 MB
        cli("queue", "--no-worker", *TINY, "--epochs", "1")  # ~1 MB: fits
        cli("worker", "--device", "cpu", "--exit-when-empty", timeout=300)
        partial = [str(p) for p in root.rglob("*.tmp")]
    store = RunStore()
    big, small = store.get_run(1), store.get_run(2)
    assert big.status == "failed" and big.error.startswith("disk full writing checkpoint")
    assert "\n" not in big.error
    assert small.status == "completed"
    assert partial == []


def test_a_store_on_a_full_disk_is_one_line_and_loses_nothing(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        db = str(disk / "runs.db")
        cli("queue", "--no-worker", *TINY, "--db", db)
        before = json.loads(cli("runs", "--json", "--db", db).stdout)
        filler = fill(disk)
        commands = (["queue", "--no-worker", *TINY], ["runs"], ["note", "1", "hello"],
                    ["train", *TINY, "--epochs", "1"])
        results = [cli(*command, "--db", db, check=False) for command in commands]
        filler.unlink()
        after = json.loads(cli("runs", "--json", "--db", db).stdout)
    for command, proc in zip(commands, results, strict=True):
        line = one_line(proc)
        assert proc.returncode == 2, (command, line)
        assert f"disk full: the store {db} could not be written" in line, command
    assert after == before and len(after) == 1


@pytest.mark.slow
def test_the_worker_outlives_a_full_store_and_records_the_run_when_space_is_back(
    tmp_path: Path, procs: list,
) -> None:
    log = tmp_path / "worker.log"
    with small_tmpfs(tmp_path / "disk", "3m") as disk:
        db = str(disk / "runs.db")
        cli("queue", "--no-worker", *TINY, "--limit-train", "4000", "--epochs", "3",
            "--retries", "0", "--db", db)
        worker = start_worker("--device", "cpu", "--db", db, log=log)
        procs.append(worker)
        with RunStore(db) as store:
            wait_for(lambda: store.get_steps(1), timeout=180, what="training to start")
            steps = len(store.get_steps(1))
        filler = fill(disk)
        wait_for(lambda: "the store cannot record it yet" in log.read_text(), timeout=120,
                 what="the worker to give up on the store")
        assert worker.poll() is None  # alive, waiting for space
        filler.unlink()
        wait_for(lambda: "run 1 interrupted: its store could not be written" in log.read_text(),
                 timeout=60, what="the interruption to be recorded")
        assert worker.poll() is None
        with RunStore(db) as store:
            run = store.get_run(1)
            assert run.status == "interrupted" and "disk full" in run.error
            assert len(store.get_steps(1)) >= steps  # nothing stored before is lost
        cli("worker", "--stop", "--device", "cpu", "--db", db, timeout=60)
        assert worker.wait(timeout=30) == 0
    assert "Traceback" not in log.read_text()


# -- too little memory ---------------------------------------------------------------


def test_train_under_a_memory_cap_is_one_line_not_an_import_traceback(tmp_path: Path) -> None:
    limit = 400 * 2**20  # Python and the CLI start; torch's libraries cannot be mapped

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "cifar_tui", "train", *TINY, "--epochs", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          preexec_fn=cap, env=os.environ.copy())
    line = one_line(proc)
    assert proc.returncode == 2
    assert line.startswith("cifar-tui: error: could not load torch: ") and "ulimit -v" in line


CPU_OOM = ("[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't allocate memory: "
           "you tried to allocate 4294967296 bytes. Error code 12 (Cannot allocate memory)")


class _CpuOutOfMemoryModel(torch.nn.Module):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)
        self.error = error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.error


@pytest.mark.parametrize("error", [RuntimeError(CPU_OOM), MemoryError()],
                         ids=["allocator", "MemoryError"])
def test_cpu_out_of_memory_fails_the_run_with_the_same_fix_as_cuda(
    error: BaseException, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real thing needs a machine out of memory; the model raises torch's exact error.
    import engine.train

    monkeypatch.setattr(engine.train, "build_model", lambda *a, **k: _CpuOutOfMemoryModel(error))
    monkeypatch.setattr(engine.train, "count_parameters", lambda m: 0)
    config = config_from_preset("seed", dataset="synthetic", limit_train=32, batch_size=16,
                                device="cpu")
    final = engine.train.train(config)
    assert isinstance(final, RunFailed)
    assert final.reason.startswith("CPU out of memory at batch size 16")
    assert final.reason.endswith(": lower --batch-size or --width-mult")
    if isinstance(error, RuntimeError):
        assert "(it asked for 4.3 GB more)" in final.reason


# -- ctrl+c while starting -----------------------------------------------------------


@pytest.mark.parametrize("delay", [0.3, 0.8])
def test_ctrl_c_twice_during_start_up_is_one_line_and_130(delay: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cifar_tui", "train", *TINY, "--epochs", "5"], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        time.sleep(delay)  # importing torch, opening the store
        for _ in range(2):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            time.sleep(0.1)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err == "cifar-tui: interrupted\n"
