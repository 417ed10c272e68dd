"""`worker --status` per device: the run each device trains with its images/s, idle ones,
GPU figures where NVML reads them (faked: no GPU here), and queued runs no worker serves."""

from __future__ import annotations

import os

import pytest
from support.fake_machine import GPUS
from support.store import cfg

from cli.main import main
from engine.events import StepMetrics
from engine.paths import host_name
from storage import RunStore
from worker import launcher
from worker.device_status import TrainingRun, gpu_of, gpu_words, status_lines


@pytest.fixture
def store() -> RunStore:
    with RunStore() as opened:  # the default store of this test's app folder
        yield opened


def test_two_devices_show_their_run_its_speed_and_the_idle_one(
        store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    first = store.create_run(cfg(device="cpu", name="first"))
    store.create_run(cfg(device="cuda:1", name="wants-gpu"))
    claimed = store.claim_next_run(launcher.make_worker_id(host_name(), os.getpid(), "cpu:1"),
                                   "cpu:1", host_name())
    assert claimed is not None and claimed.run_id == first
    store.append_steps(first, [StepMetrics(step=5, epoch=1, loss=2.0, lr=0.01,
                                           images_per_s=1234.5)])
    locks = [launcher.WorkerLock(store.store_id, d, "/tmp/w.log") for d in ("cpu:0", "cpu:1")]
    assert all(lock.acquire(store.display_url) for lock in locks)
    try:
        assert main(["worker", "--status"]) == 0
    finally:
        for lock in locks:
            lock.release()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"worker for cpu:0, cpu:1: pid {os.getpid()}, up ")
    assert lines[0].endswith("(this store)") and "  log /tmp/w.log" in lines
    assert "  cpu:0    idle" in lines
    assert f"  cpu:1    #{first} first                  1,234 img/s" in lines
    assert ("1 queued run(s) of this store ask for cuda:1, which no live worker here serves; "
            "they wait") in " ".join(lines)
    assert all(len(line) <= 80 for line in lines if not line.startswith("  store"))


def test_json_status_lists_each_device_with_its_runs(
        store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    lock = launcher.WorkerLock(store.store_id, "cpu:0")
    assert lock.acquire(store.display_url)
    try:
        assert main(["worker", "--status", "--json"]) == 0
    finally:
        lock.release()
    assert '"device": "cpu:0"' in capsys.readouterr().out


def test_a_gpu_line_carries_utilisation_and_memory_within_80_columns() -> None:
    info = launcher.WorkerInfo("cuda:0", 77, "sqlite:///x.db", 0.0, "/tmp/x.log", "s")
    run = TrainingRun(12, "a-rather-long-run-name-for-the-sweep", 41_234.0)
    gpu = gpu_of("cuda:0", GPUS, env={})
    lines = status_lines(info, [run, TrainingRun(13, "second", None, slot=1)], gpu, True)
    assert lines[0] == ("  cuda:0   #12 a-rather-long-run-n… 41,234 img/s  "
                        "GPU 97% 60.0/79.6 GB")
    assert lines[1] == "           #13 second"
    assert all(len(line) <= 80 for line in lines)


def test_gpu_figures_follow_cuda_visible_devices() -> None:
    assert gpu_of("cuda:0", GPUS, env={"CUDA_VISIBLE_DEVICES": "1"}).name == "NVIDIA A10"
    assert gpu_of("cuda:1", GPUS, env={"CUDA_VISIBLE_DEVICES": "1"}) is None
    assert gpu_of("cpu:0", GPUS, env={}) is None
    assert gpu_words(None) == ""
