"""predict and evaluate as a user runs them, as processes: `train` a run, `evaluate` its
final checkpoint (it must reproduce the stored test results) and `predict` PNG files of
test images (it must give evaluate's class for each). On synthetic data, and on the real
CIFAR-10 subset in ../shared when it is there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from support.data import SHARED_SUBSET
from support.e2e import TINY, cli

from engine.config import RunConfig
from outputs.evaluate import load_test_split

pytestmark = pytest.mark.slow


def train(*args: str) -> dict:
    return json.loads(cli("train", *args, "--json", timeout=300).stdout)


def save_pngs(images: torch.Tensor, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:04d}.png" for i in range(len(images))]
    for path, img in zip(paths, images, strict=True):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(path)
    return paths


def check_predict_agrees_with_evaluate(run: dict, tmp_path: Path, n_images: int) -> dict:
    """evaluate --checkpoint last = the stored results; predict on PNGs = evaluate's classes."""
    run_id = str(run["run_id"])
    stored = json.loads(cli("show", run_id, "--json").stdout)
    result = json.loads(cli("evaluate", "--run", run_id, "--checkpoint", "last", "--json",
                            timeout=300).stdout)
    assert result["matches_stored"] is True
    assert result["confusion"] == stored["confusion"]
    assert result["accuracy"] == stored["test_acc"]
    assert result["per_class_acc"] == stored["per_class_acc"]

    images, labels = load_test_split(RunConfig.from_dict(stored["config"]))
    assert result["labels"] == labels.tolist()
    save_pngs(images[:n_images], tmp_path / "pngs")
    got = json.loads(cli("predict", str(tmp_path / "pngs"), "--run", run_id, "--checkpoint",
                         "last", "--json", timeout=300).stdout)
    assert [p["index"] for p in got["predictions"]] == result["predictions"][:n_images]
    return result


def test_synthetic_run_predict_and_evaluate_agree(tmp_path: Path) -> None:
    run = train(*TINY, "--epochs", "2")
    check_predict_agrees_with_evaluate(run, tmp_path, 64)


@pytest.mark.skipif(not SHARED_SUBSET.is_dir(),
                    reason=f"the real CIFAR-10 subset is not at {SHARED_SUBSET} (a fresh clone "
                           "has no ../shared)")
def test_real_subset_run_predict_and_evaluate_agree(tmp_path: Path) -> None:
    run = train("--data-dir", str(SHARED_SUBSET), "--limit-train", "512", "--width-mult",
                "0.125", "--batch-size", "64", "--device", "cpu", "--epochs", "1")
    result = check_predict_agrees_with_evaluate(run, tmp_path, 100)
    assert result["num_images"] == 1017  # the subset's whole test_batch
    assert result["class_names"][:2] == ["airplane", "automobile"]


def test_bad_inputs_are_one_line_and_exit_2(tmp_path: Path) -> None:
    run_id = str(train(*TINY, "--epochs", "1")["run_id"])
    text = tmp_path / "photo.jpg"
    text.write_text("not really a photo")
    queued = json.loads(cli("queue", *TINY, "--no-worker", "--json").stdout)["run_id"]
    for args, words in [
        (["predict", str(text), "--run", run_id], "is not an image PIL can read"),
        (["predict", str(text), "--run", "4242"], "no run with id 4242"),
        (["evaluate", "--run", str(queued)], f"run {queued} (queued) has no best checkpoint"),
    ]:
        proc = cli(*args, check=False)
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        assert proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
