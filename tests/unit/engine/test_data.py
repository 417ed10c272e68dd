"""CIFAR loading: the split, and one-line DataErrors that name the file and the fix."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from support.data import write_cifar_folder

from engine.config import RunConfig
from engine.data import DataError, ensure_cifar10, load_batch, load_splits
from engine.events import RunFailed, RunFinished, RunStarted
from engine.train import train


def tiny_config(data_dir: Path, **changes: object) -> RunConfig:
    base = dict(model="resnet9", width_mult=0.125, epochs=1, batch_size=32,
                data_dir=str(data_dir), log_every=2)
    return RunConfig(**{**base, **changes})


def batch_file(root: Path, name: str = "data_batch_1") -> Path:
    return root / "cifar-10-batches-py" / name


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garble(path: Path) -> None:
    path.write_bytes(b"\x00garbage, not a pickle" * 50)


def wrong_shape(path: Path) -> None:
    with open(path, "wb") as fh:
        pickle.dump({"labels": [0] * 8, "data": np.zeros((8, 100), dtype=np.uint8)}, fh)


def assert_one_line_naming(message: str, path: Path, *words: str) -> None:
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(("damage", "words"), [
    (truncate, ("truncated or corrupt", "re-download")),
    (garble, ("truncated or corrupt", "re-download")),
    (wrong_shape, ("shape (8, 100)", "expected N x 3072 uint8")),
], ids=["truncated", "garbage", "wrong-shape"])
def test_damaged_batch_file_gives_a_one_line_error_naming_it(tmp_path: Path, damage, words) -> None:
    root = write_cifar_folder(tmp_path / "data", n_train_per_batch=8, n_test=8)
    path = batch_file(root, "data_batch_2")
    damage(path)
    with pytest.raises(DataError) as info:
        load_batch(path)
    assert_one_line_naming(str(info.value), path, *words)
    # The training loop turns it into a failed run with the same one-line reason.
    events: list = []
    final = train(tiny_config(root), events.append)
    assert isinstance(final, RunFailed) and events == [final]
    assert_one_line_naming(final.reason, path, *words)


def test_damaged_test_batch_is_named_too(tmp_path: Path) -> None:
    root = write_cifar_folder(tmp_path / "data", n_train_per_batch=8, n_test=8)
    truncate(batch_file(root, "test_batch"))
    final = train(tiny_config(root))
    assert isinstance(final, RunFailed)
    assert_one_line_naming(final.reason, batch_file(root, "test_batch"), "truncated or corrupt")


def test_labels_outside_the_ten_classes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as fh:
        pickle.dump({"labels": [3, 12], "data": np.zeros((2, 3072), dtype=np.uint8)}, fh)
    with pytest.raises(DataError, match="labels outside 0..9"):
        load_batch(path)


def test_missing_folder_offline_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        ensure_cifar10(missing)
    assert_one_line_naming(str(info.value), missing, "downloads are off", "--data-dir",
                           "--dataset synthetic")
    final = train(tiny_config(missing))
    assert isinstance(final, RunFailed)
    assert_one_line_naming(final.reason, missing, "--data-dir")


def test_missing_test_batch_completes_and_skips_test_metrics(tmp_path: Path) -> None:
    root = write_cifar_folder(tmp_path / "data", n_train_per_batch=20, with_test=False)
    events: list = []
    final = train(tiny_config(root), events.append)
    assert isinstance(final, RunFinished)
    assert final.test_acc is None and final.test_loss is None and final.confusion is None
    assert final.final_val_acc is not None
    started = events[0]
    assert isinstance(started, RunStarted) and started.num_test == 0
    assert "no test_batch" in started.dataset_note
    assert "test metrics skipped" in started.dataset_note


def test_any_number_of_images_per_batch_file_loads_and_splits_by_seed(tmp_path: Path) -> None:
    root = write_cifar_folder(tmp_path / "data", n_train_per_batch=37, n_batches=3, n_test=11)
    splits = load_splits(tiny_config(root, val_fraction=0.1))
    assert (len(splits.train_x), len(splits.val_x), len(splits.test_x)) == (100, 11, 11)
    assert splits.train_x.shape[1:] == (3, 32, 32) and str(splits.train_x.dtype) == "torch.uint8"
    assert splits.class_names[0] == "airplane"
    again = load_splits(tiny_config(root, val_fraction=0.1))
    other = load_splits(tiny_config(root, val_fraction=0.1, seed=1))
    assert (again.val_x == splits.val_x).all()
    assert not (other.val_x == splits.val_x).all()


def test_limit_train_keeps_the_first_n_training_images_and_the_whole_val_split(
    tmp_path: Path,
) -> None:
    root = write_cifar_folder(tmp_path / "data", n_train_per_batch=50)
    full = load_splits(tiny_config(root))
    limited = load_splits(tiny_config(root, limit_train=17))
    assert len(limited.train_x) == 17 and (limited.train_x == full.train_x[:17]).all()
    assert len(limited.val_x) == len(full.val_x)


def test_synthetic_data_trains_and_says_it_is_synthetic(tmp_path: Path) -> None:
    events: list = []
    final = train(RunConfig(dataset="synthetic", model="resnet9", width_mult=0.125, epochs=1,
                            batch_size=32, limit_train=64, log_every=2), events.append)
    assert isinstance(final, RunFinished)
    assert final.test_acc is not None and final.class_names[0].startswith("synthetic")
    assert "synthetic" in events[0].dataset_note
