"""`cifar-tui train`: bad input refused in one line with exit code 2, --json output,
--no-store, and the issue's short run on the real shared subset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.data import REPO, SHARED_SUBSET, write_cifar_folder

from cli.main import main

TINY = ["--width-mult", "0.125", "--batch-size", "32", "--log-every", "2"]


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits by itself
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, out: str, err: str, words: str) -> None:
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("cifar-tui: error:")
    assert words in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(("args", "words"), [
    (["--max-lr", "0"], "learning rate (--max-lr) must be a number > 0, got 0.0"),
    (["--max-lr=-0.5"], "learning rate (--max-lr) must be a number > 0, got -0.5"),
    (["--epochs", "0"], "epochs (--epochs) must be a whole number >= 1, got 0"),
    (["--batch-size", "0"], "batch size (--batch-size) must be a whole number >= 1"),
    (["--model", "resnet50"],
     "unknown model 'resnet50'; --model must be one of: resnet9, resnet18, resnet18-seed"),
    (["--preset", "huge"], "unknown preset 'huge'; --preset must be one of: seed"),
    (["--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--width-mult", "0"], "width multiplier (--width-mult) must be a number > 0"),
], ids=["max-lr=0", "max-lr=-0.5", "epochs=0", "batch-size=0", "model", "preset", "optimizer",
       "device", "width-mult=0"])
def test_bad_value_is_refused_in_one_line_with_exit_code_2(
        args: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused(*cli(["train", "--dataset", "synthetic", *args], capsys), words)


HUGE = "100000000000000000000"  # 10**20: overflowed numpy/torch deep in training before


@pytest.mark.parametrize(("args", "words"), [
    (["--epochs", HUGE], f"epochs (--epochs) must be at most 10000, got {HUGE}"),
    (["--batch-size", HUGE], f"batch size (--batch-size) must be at most 65536, got {HUGE}"),
    (["--seed", HUGE], f"seed (--seed) must be at most 4294967295, got {HUGE}"),
    (["--log-every", HUGE], f"--log-every must be at most 1000000, got {HUGE}"),
    (["--limit-train", HUGE], "--limit-train must be at most 100000"),
    (["--max-lr", "1e999"], "learning rate (--max-lr) must be a finite number, got inf"),
    (["--epochs", "9" * 5000], "--epochs must be a whole number, got '99999"),  # int()'s limit
], ids=["epochs", "batch-size", "seed", "log-every", "limit-train", "max-lr=inf", "5000-digits"])
@pytest.mark.parametrize("command", ["train", "queue"])
def test_huge_value_is_refused_in_one_line_with_exit_code_2(
        command: str, args: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli([command, "--dataset", "synthetic", "--no-worker" if command == "queue"
                          else "--no-store", *args], capsys)
    assert_refused(code, out, err, words)
    assert len(err) < 200  # the value is cut short, not echoed in full


def test_grad_clip_zero_on_the_command_line_turns_clipping_off(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["queue", "--dataset", "synthetic", "--grad-clip", "0", "--logit-scale",
                        "0.5", "--log-every", "7", "--compile", "--no-worker", "--json"], capsys)
    assert code == 0
    config = json.loads(out)["config"]
    assert (config["grad_clip"], config["logit_scale"]) == (None, 0.5)
    assert (config["log_every"], config["compile"]) == (7, True)


@pytest.mark.parametrize("args", [["--epochs", "abc"], ["--max-lr", "fast"]],
                         ids=["epochs=abc", "max-lr=fast"])
def test_non_number_is_refused_in_one_line_with_exit_code_2(
        args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # argparse's own error prints the whole usage block and "cifar-tui train: error:".
    assert_refused(*cli(["train", "--dataset", "synthetic", *args], capsys), "must be")


def test_missing_data_folder_is_refused_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-folder"
    code, out, err = cli(["train", "--data-dir", str(missing), "--no-store"], capsys)
    assert_refused(code, out, err, f"data folder {missing} does not exist")
    assert "--dataset synthetic" in err


def test_empty_data_folder_offline_is_refused_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(["train", "--data-dir", str(tmp_path), "--no-store"], capsys)
    assert_refused(code, out, err, f"no CIFAR-10 in {tmp_path} and downloads are off")


def test_truncated_batch_file_fails_the_run_with_one_line_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "a-data-folder-with-a-long-enough-name-to-need-wrapping" / "data"
    root = write_cifar_folder(folder, n_train_per_batch=8, n_test=8)
    damaged = root / "cifar-10-batches-py" / "data_batch_2"
    damaged.write_bytes(damaged.read_bytes()[:100])
    proc = subprocess.run(
        [sys.executable, "cifar_tui.py", "train", "--data-dir", str(root), "--epochs", "1", *TINY,
         "--no-store"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert any(str(damaged) in line and "truncated or corrupt" in line for line in lines), \
        f"the message is not on one line:\n{proc.stderr}"


def test_train_json_prints_one_object_with_config_and_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_cifar_folder(tmp_path / "data", n_train_per_batch=100, n_test=100)
    code, out, _ = cli(["train", "--data-dir", str(root), "--epochs", "5", "--max-lr", "0.01",
                        "--no-augment", "--val-fraction", "0.2", *TINY,
                        "--checkpoint-dir", str(tmp_path / "ckpt"), "--no-store", "--json"], capsys)
    assert code == 0
    result = json.loads(out)  # the whole of stdout is one JSON object
    assert result["status"] == "completed"
    assert result["config"]["data_dir"] == str(root) and result["config"]["epochs"] == 5
    assert result["config"]["width_mult"] == 0.125 and result["config"]["augment"] is False
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3, 4, 5]
    results = result["results"]
    assert results["val_acc"] >= 0.6 and results["test_acc"] >= 0.6
    assert results["train_images_per_s"] > 0
    assert sum(map(sum, results["confusion"])) == 100
    assert Path(results["checkpoint_last"]) == tmp_path / "ckpt" / "last.pt"


def test_no_store_runs_without_recording_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    db_file = Path(os.environ["CIFAR_TUI_DB"].removeprefix("sqlite:///"))
    code, out, _ = cli(["train", "--dataset", "synthetic", "--limit-train", "64", "--epochs", "1",
                        *TINY, "--no-store", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["status"] == "completed"
    assert "synthetic" in result["dataset_note"]
    assert result["run_id"] is None
    assert not db_file.exists()


def test_foreground_train_writes_its_epoch_lines_and_outcome_to_the_runs_train_log(
        capsys: pytest.CaptureFixture[str]) -> None:
    from storage import RunStore

    code, out, err = cli(["train", "--dataset", "synthetic", "--limit-train", "48",
                          "--width-mult", "0.125", "--epochs", "1", "--device", "cpu"], capsys)
    assert code == 0, err
    assert "run 1 completed" in out  # the terminal still gets the summary
    store = RunStore(os.environ["CIFAR_TUI_DB"])
    try:
        log = (store.run_dir(1) / "train.log").read_text()
    finally:
        store.close()
    assert "epoch 1/1: train loss" in log
    assert "run 1 completed" in log and "val acc" in log
    assert "\x1b[" not in log  # plain text, no terminal codes


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_SUBSET.is_dir(), reason=f"no shared subset at {SHARED_SUBSET}")
def test_seed_preset_short_run_on_the_real_subset_prints_val_accuracy() -> None:
    """The issue's acceptance command, as a real subprocess on the real 5,170-image subset."""
    proc = subprocess.run(
        [sys.executable, "cifar_tui.py", "train", "--preset", "seed",
         "--data-dir", str(SHARED_SUBSET), "--epochs", "1", "--limit-train", "400",
         "--width-mult", "0.25", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "completed" and result["device"] == "cpu"
    assert 0.0 <= result["results"]["val_acc"] <= 1.0
    assert 0.0 <= result["results"]["test_acc"] <= 1.0
    assert result["results"]["train_images_per_s"] > 0
    assert sum(map(sum, result["results"]["confusion"])) == 1017  # the subset's whole test_batch
    assert result["epochs"][0]["val_acc"] == result["results"]["val_acc"]
