"""0006: sweeps, `pruned`, and our own version table so Optuna's study can share the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from support.store import PG_URL, empty_postgres

from engine.config import RunConfig
from storage import RunStore, SchemaTooNewError
from storage.db import alembic_config, head_revision


def _to_legacy_table(conn) -> None:
    """The revision back in alembic_version, as Alembic itself made that table."""
    revision = conn.execute(text("SELECT version_num FROM cifar_tui_version")).scalar()
    conn.execute(text("DROP TABLE cifar_tui_version"))
    conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                      "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
    conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": revision})


def _legacy_store(url: str) -> None:
    """A store as 0005 left it: its revision in alembic_version, runs 1-3, run 3 deleted."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0005")
        _to_legacy_table(conn)
    engine.dispose()
    with RunStore(url) as store:  # adopts the table, migrates to head
        for _ in range(3):
            store.create_run(RunConfig(), tags=("old",))
        store.delete_run(3)
    engine = create_engine(url)
    with engine.begin() as conn:  # back to exactly what 0005 wrote
        conn.execute(text("DROP TABLE sweeps"))
        conn.execute(text("DROP INDEX ix_runs_sweep_id"))
        for column in ("sweep_id", "trial_number"):
            conn.execute(text(f"ALTER TABLE runs DROP COLUMN {column}"))
        conn.execute(text("UPDATE cifar_tui_version SET version_num = '0005'"))
        _to_legacy_table(conn)
    engine.dispose()


def _widen_back(url: str) -> None:
    """Put the 0005 status check back (the fixture above built it with 0006's)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'runs'").scalar()
            conn.exec_driver_sql("PRAGMA writable_schema = ON")
            conn.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE name = 'runs'",
                                 (sql.replace(",'pruned'", ""),))
            version = conn.exec_driver_sql("PRAGMA schema_version").scalar()
            conn.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
            conn.exec_driver_sql("PRAGMA writable_schema = OFF")
        else:
            conn.execute(text("ALTER TABLE runs DROP CONSTRAINT ck_runs_status"))
            conn.execute(text("ALTER TABLE runs ADD CONSTRAINT ck_runs_status CHECK (status IN "
                              "('queued','running','completed','failed','cancelled',"
                              "'interrupted'))"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL)")
        empty_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path / 'legacy.db'}"
    _legacy_store(url)
    _widen_back(url)
    return url


def _set_status(url: str, run_id: int, status: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE runs SET status = :s WHERE id = :i"),
                         {"s": status, "i": run_id})
    finally:
        engine.dispose()


def test_a_0005_store_keeps_its_runs_ids_and_tags_and_accepts_pruned(legacy_url: str) -> None:
    with pytest.raises(Exception, match="ck_runs_status|CHECK constraint"):
        _set_status(legacy_url, 1, "pruned")  # 0005 refuses the new status
    with RunStore(legacy_url) as store:
        assert [r.id for r in store.list_runs(sort="id", descending=False)] == [1, 2]
        assert store.get_run(2).tags == ("old",)
        assert store.create_run(RunConfig()) == 4  # the deleted 3 is never reused
    _set_status(legacy_url, 1, "pruned")
    engine = create_engine(legacy_url)
    with engine.connect() as conn:
        tables = set(conn.dialect.get_table_names(conn))
        version = conn.execute(text("SELECT version_num FROM cifar_tui_version")).scalar()
    engine.dispose()
    assert "alembic_version" not in tables and version == head_revision() == "0006"
    with RunStore(legacy_url) as store:
        assert store.get_run(1).status == "pruned"


def test_an_optuna_study_lives_in_the_same_database(tmp_path: Path) -> None:
    import optuna

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    RunStore(url).close()
    study = optuna.create_study(storage=url, study_name="s", direction="maximize")
    trial = study.ask()
    study.tell(trial, 0.5)
    with RunStore(url) as store:  # Optuna's alembic_version does not confuse the store
        assert store.create_run(RunConfig()) == 1
    assert optuna.load_study(study_name="s", storage=url).best_value == 0.5


def test_a_legacy_store_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    _legacy_store(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
    db.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="0999"):
        RunStore(str(path))
    assert path.read_bytes() == before
