"""A run records the git commit of the code that trained it, and whether the tree was edited."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from worker.code_version import DIRTY_SUFFIX, code_version


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("lr = 0.01\n")
    git(root, "add", "train.py")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return root


def test_a_clean_checkout_records_its_head_commit(checkout: Path) -> None:
    assert code_version(checkout) == git(checkout, "rev-parse", "HEAD")


def test_an_edited_checkout_is_marked_dirty(checkout: Path) -> None:
    (checkout / "train.py").write_text("lr = 0.4\n")
    assert code_version(checkout) == git(checkout, "rev-parse", "HEAD") + DIRTY_SUFFIX


def test_outside_a_checkout_nothing_is_recorded(tmp_path: Path) -> None:
    assert code_version(tmp_path) is None


def test_the_recorder_stores_the_commit_when_a_run_starts(tmp_path: Path) -> None:
    from engine.config import config_from_preset
    from engine.events import RunStarted
    from storage import RunStore
    from worker.recorder import StoreRecorder

    with RunStore(str(tmp_path / "runs.db")) as store:
        run_id = store.create_run(config_from_preset("seed", dataset="synthetic"))
        store.claim_next_run("w")
        StoreRecorder(store, run_id).handle(RunStarted(
            config={}, device="cpu", host="h", torch_version="t", num_params=1, num_train=1,
            num_val=0, num_test=0, steps_per_epoch=1, total_steps=2))
        assert store.get_run(run_id).git_commit == code_version()
        assert store.get_run(run_id).git_commit is not None  # the tests run in a checkout
