"""Real databases, no mocks: a SQLite file in tmp_path, and PostgreSQL too when one is offered.

Set CIFAR_TUI_TEST_PG_URL (for example postgresql+psycopg2://ct:ct@127.0.0.1/cifartui_test)
and every test that takes the ``store`` fixture runs against both backends. `.ci/run`
starts a local PostgreSQL when it can; without one those cases are skipped, not faked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage import RunStore

PG_URL = os.environ.get("CIFAR_TUI_TEST_PG_URL")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


def _empty_postgres(url: str) -> None:
    """Drop everything a previous test left, so each test starts from an empty database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, db_path: Path):
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL)")
        _empty_postgres(PG_URL)
        s = RunStore(PG_URL)
    else:
        s = RunStore(str(db_path))
    yield s
    s.close()
