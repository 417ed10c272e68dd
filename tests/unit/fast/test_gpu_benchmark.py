"""benchmarks/gpu.py runs end to end on a tiny CPU budget where only torch and torchvision exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def run_bench(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", BARE_MACHINE, *TINY, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_synthetic_run_times_plain_seed_and_fast_with_ratios_and_the_augmentation() -> None:
    report = run_bench("--aug", "--aug-images", "256", "--repeats", "1")
    runs = report["training"]["runs"]
    assert set(runs) == {"plain", "seed", "fast"}
    for run in runs.values():
        assert run["num_train"] == 256 and len(run["epoch_seconds"]) == 1 and run["per_epoch"] > 0
    assert set(report["training"]["ratios"]) == {"seed", "fast"}
    assert "time_to_94" not in report["training"]  # synthetic data: no accuracy claim
    aug = report["augmentation"]
    assert aug["ratio"] > 0 and len(aug["engine"]) == len(aug["plain"]) == 1


def test_real_data_folder_reports_time_to_94(tmp_path: Path) -> None:
    data = write_cifar_folder(tmp_path / "data", n_train_per_batch=150, n_batches=2, n_test=50)
    report = run_bench("--data-dir", str(data), "--presets", "fast", "--no-plain")
    training = report["training"]
    assert set(training["runs"]) == {"fast"} and training["data"] == "CIFAR-10"
    assert "time_to_94" in training  # null ("not reached") or seconds, never missing
