"""A queued run carries every default resolved in the user's shell: the detached worker
has another working folder and environment, and must train what the user meant."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.data import write_cifar_folder
from support.e2e import cli

from storage import RunStore

SMALL = ["--limit-train", "64", "--width-mult", "0.125", "--batch-size", "16", "--device", "cpu",
         "--epochs", "1", "--log-every", "1", "--no-worker", "--json"]


def test_the_data_folder_from_the_environment_is_stored_with_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_cifar_folder(tmp_path / "data")
    monkeypatch.setenv("CIFAR_TUI_DATA", str(data))
    cli("queue", *SMALL)
    [run] = RunStore().list_runs()
    assert RunStore().get_run(run.id).config["data_dir"] == str(data.resolve())

    # The worker starts without $CIFAR_TUI_DATA and still finds the data.
    monkeypatch.delenv("CIFAR_TUI_DATA")
    cli("worker", "--device", "cpu", "--exit-when-empty", timeout=180)
    finished = RunStore().get_run(run.id)
    assert finished.status == "completed", finished.error


def test_a_relative_data_folder_is_stored_as_an_absolute_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cifar_folder(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    from cli.main import main

    assert main(["queue", *SMALL, "--data-dir", "data"]) == 0
    [run] = RunStore().list_runs()
    stored = RunStore().get_run(run.id).config["data_dir"]
    assert Path(stored).is_absolute() and Path(stored) == (tmp_path / "data").resolve()
    assert os.path.isdir(stored)
