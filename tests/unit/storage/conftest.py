"""Real SQLite files in tmp_path; no mocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import RunStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def store(db_path: Path):
    s = RunStore(str(db_path))
    yield s
    s.close()
