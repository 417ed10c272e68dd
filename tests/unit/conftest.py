"""Real databases, no mocks: a SQLite file in tmp_path, and PostgreSQL too when one is offered.

Set CIFAR_TUI_TEST_PG_URL (for example postgresql+psycopg://ct:ct@127.0.0.1/cifartui_test)
and every test that takes the ``store`` fixture runs against both backends. `.ci/run`
starts a local PostgreSQL when it can; without one those cases are skipped, not faked.
Shared by the storage and the worker tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import FixedTime
from support.store import PG_URL, empty_postgres

from storage import RunStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def clock() -> FixedTime:
    """The ``store`` fixture's clock: tests move it on instead of sleeping."""
    return FixedTime()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, db_path: Path, clock: FixedTime) -> Iterator[RunStore]:
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL)")
        empty_postgres(PG_URL)
        s = RunStore(PG_URL, clock=clock)
    else:
        s = RunStore(str(db_path), clock=clock)
    yield s
    s.close()
