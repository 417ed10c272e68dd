"""Shared fixtures: isolate every test from the user's store, data and network."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.data import write_cifar_folder


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the network, the user's run store or their app folder."""
    home = tmp_path_factory.mktemp("cifar-tui-home")
    monkeypatch.setenv("CIFAR_TUI_OFFLINE", "1")
    monkeypatch.setenv("CIFAR_TUI_HOME", str(home))
    monkeypatch.setenv("CIFAR_TUI_DB", f"sqlite:///{home / 'runs.db'}")
    monkeypatch.delenv("CIFAR_TUI_DATA", raising=False)
    return home


@pytest.fixture
def tiny_cifar(tmp_path: Path) -> Path:
    """A data folder (holding cifar-10-batches-py) with 80 train and 40 test images."""
    return write_cifar_folder(tmp_path / "data")
