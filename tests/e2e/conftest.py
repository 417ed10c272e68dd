"""Fixtures for the tests that run the real CLI and workers as processes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from support.e2e import kill_worker


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    """Workers a test started; whatever is left running is killed, even when it fails."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        kill_worker(proc)
