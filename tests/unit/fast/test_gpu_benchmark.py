"""benchmarks/gpu.py: its arithmetic, its data, and an end-to-end run on a tiny CPU budget
where only torch and torchvision exist."""

from __future__ import annotations

import importlib.util
import json
import pickle
import statistics
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from support.data import REPO, write_cifar_folder

# Run the script with the app's other dependencies made unimportable, as on a bare GPU box.
BARE_MACHINE = """
import runpy, sys
BLOCKED = {"textual", "sqlalchemy", "alembic", "rich", "platformdirs", "storage", "tui", "cli"}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed on this machine")
sys.meta_path.insert(0, Block())
sys.argv = ["benchmarks/gpu.py", *sys.argv[1:]]
runpy.run_path("benchmarks/gpu.py", run_name="__main__")
"""
TINY = ["--device", "cpu", "--width-mult", "0.125", "--max-images", "256", "--epochs", "1",
        "--workers", "1", "--json"]


@pytest.fixture(scope="module")
def gpu() -> ModuleType:
    """benchmarks/gpu.py imported by path (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "benchmarks" / "gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved  # the script puts benchmarks/ first, whose tui.py would shadow tui
    return module


def run_bench(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", BARE_MACHINE, *TINY, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_per_epoch_is_the_median_after_the_warm_up_epoch(gpu: ModuleType) -> None:
    assert gpu.per_epoch([30.0, 2.0, 4.0, 3.0]) == 3.0  # the slow first epoch is left out
    assert gpu.per_epoch([5.0]) == 5.0  # one epoch is all there is


def test_time_to_target_sums_training_seconds_up_to_the_first_epoch_reaching_it(
        gpu: ModuleType) -> None:
    run = {"epoch_seconds": [1.0, 2.0, 3.0, 4.0], "val_acc": [0.5, None, 0.95, 0.97]}
    assert gpu.time_to_target(run, 0.94) == 6.0
    assert gpu.time_to_target(run, 0.5) == 1.0
    assert gpu.time_to_target(run, 0.99) is None


def test_synthetic_cifar_has_the_requested_images_in_the_official_format(
        gpu: ModuleType, tmp_path: Path) -> None:
    folder = gpu.write_synthetic_cifar(tmp_path, n_train=103, n_test=17) / "cifar-10-batches-py"
    batches = []
    for name in sorted(p.name for p in folder.iterdir()):
        with open(folder / name, "rb") as fh:
            batches.append((name, pickle.load(fh)))
    train = [b for name, b in batches if name.startswith("data_batch_")]
    (test,) = [b for name, b in batches if name == "test_batch"]
    assert sum(len(b["labels"]) for b in train) == 103 and len(test["labels"]) == 17
    for b in (*train, test):
        assert b["data"].dtype == np.uint8 and b["data"].shape == (len(b["labels"]), 3072)
        assert set(b["labels"]) <= set(range(10))


def test_backend_flags_restore_what_training_changed(gpu: ModuleType) -> None:
    before = torch.backends.cudnn.benchmark
    flags = gpu.BackendFlags()
    torch.backends.cudnn.benchmark = not before
    flags.restore()
    assert torch.backends.cudnn.benchmark == before


def test_synthetic_run_times_plain_seed_and_fast_with_ratios_and_the_augmentation() -> None:
    report = run_bench("--aug", "--aug-images", "256", "--repeats", "1")
    training = report["training"]
    runs = training["runs"]
    assert set(runs) == {"plain", "seed", "fast"}
    for run in runs.values():
        assert run["num_train"] == 256 and len(run["epoch_seconds"]) == 1
        assert run["per_epoch"] == run["epoch_seconds"][0] > 0
    # Each ratio is the classic loop's seconds per epoch over that preset's.
    plain = runs["plain"]["per_epoch"]
    assert training["ratios"] == pytest.approx(
        {name: plain / runs[name]["per_epoch"] for name in ("seed", "fast")})
    assert "time_to_94" not in training  # synthetic data: no accuracy claim
    aug = report["augmentation"]
    assert len(aug["engine"]) == len(aug["plain"]) == 1 and aug["images"] == 256
    assert aug["ratio"] == pytest.approx(
        statistics.median(aug["engine"]) / statistics.median(aug["plain"]))


def test_real_data_folder_reports_time_to_94(gpu: ModuleType, tmp_path: Path) -> None:
    data = write_cifar_folder(tmp_path / "data", n_train_per_batch=150, n_batches=2, n_test=50)
    report = run_bench("--data-dir", str(data), "--presets", "fast", "--no-plain")
    training = report["training"]
    assert set(training["runs"]) == {"fast"} and training["data"] == "CIFAR-10"
    assert training["ratios"] == {}  # no classic loop, nothing to compare against
    # null ("not reached") or seconds, as the fast run's own epochs say
    assert training["time_to_94"] == gpu.time_to_target(training["runs"]["fast"], 0.94)
