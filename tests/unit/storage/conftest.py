"""Fixtures for the store tests (``store``, ``db_path`` and ``clock`` live in tests/unit)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.procs import ChildGroup


@pytest.fixture
def children() -> Iterator[ChildGroup]:
    """Spawned store processes; any still running when the test ends are killed."""
    with ChildGroup() as group:
        yield group
