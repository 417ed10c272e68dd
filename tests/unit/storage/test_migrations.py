"""Schema versions: upgrade old files, refuse newer ones untouched, resolve the URL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from engine.config import RunConfig
from storage import RunStore, SchemaTooNewError, StoreError
from storage.db import alembic_config, head_revision, resolve_url
from storage.schema import Base


def _db_at_0001(path: Path) -> None:
    """A database as the first release wrote it, with one finished run in it."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO runs (id, name, status, config, model, dataset, epochs, batch_size,"
            " max_lr, weight_decay, grad_clip, optimizer, width_mult, created_at, queued_at,"
            " best_val_acc)"
            " VALUES (7, 'old-run', 'completed', ?, 'resnet9', 'cifar10', 8, 400, 0.01, 0.0001,"
            " 0.1, 'adam', 1.0, '2024-01-02 03:04:05.000000', '2024-01-02 03:04:05.000000', 0.91)",
            (json.dumps({"model": "resnet9", "epochs": 8}),),
        )
        db.execute("INSERT INTO epoch_metrics (run_id, epoch, val_acc) VALUES (7, 1, 0.91)")
        db.execute("INSERT INTO tags (run_id, tag) VALUES (7, 'legacy')")


def test_opening_a_0001_database_upgrades_it_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _db_at_0001(path)
    with RunStore(str(path)) as store:
        run = store.get_run(7)
        assert (run.name, run.best_val_acc, run.tags) == ("old-run", 0.91, ("legacy",))
        assert run.created_at.year == 2024 and run.created_at.tzinfo is not None
        assert [e.val_acc for e in run.epoch_rows] == [0.91]
        assert (run.cancel_requested, run.class_names, run.resume_checkpoint) == (False, None, None)
        assert store.create_run(RunConfig()) == 8
    with sqlite3.connect(path) as db:
        version = db.execute("SELECT version_num FROM cifar_tui_version").fetchone()[0]
    assert version == head_revision()


def test_a_0002_store_gets_an_identity_and_keeps_its_checkpoint_paths(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _db_at_0001(path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
    engine.dispose()
    old_checkpoint = str(tmp_path / "checkpoints" / "run-7" / "last.pt")  # the shared layout
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET checkpoint_last = ? WHERE id = 7", (old_checkpoint,))
    with RunStore(str(path)) as store:
        run = store.get_run(7)
        assert run.checkpoints["last"] == old_checkpoint  # still where the file is
        assert (run.max_retries, run.attempt, run.notes_version) == (0, 1, 0)
        assert len(store.store_id) == 36 and store.run_dir(8).parent == store.artifact_root
        first_id = store.store_id
    with RunStore(str(path)) as store:
        assert store.store_id == first_id  # made once, by the migration


def test_migrations_build_exactly_the_orm_schema(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "x.db"))
    with store._engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": "cifar_tui_version"})
        assert compare_metadata(ctx, Base.metadata) == []
    store.close()


def test_newer_schema_is_refused_and_the_file_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    RunStore(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE cifar_tui_version SET version_num = '0099_from_the_future'")
    db.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError) as info:
        RunStore(str(path))
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "0099_from_the_future" in message
    assert "upgrade cifar-tui or pass another --db" in message
    assert path.read_bytes() == before


def test_a_foreign_sqlite_file_is_refused_not_written_into(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a cifar-tui run store"):
        RunStore(str(path))
    assert path.read_bytes() == before


def test_sqlite_store_uses_wal_and_enforces_foreign_keys(db_path: Path) -> None:
    store = RunStore(str(db_path))
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    store.close()


def test_url_resolution_prefers_argument_then_env_then_app_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CIFAR_TUI_DB", "postgresql://u@h/db")
    assert resolve_url(str(tmp_path / "a.db")) == f"sqlite:///{tmp_path / 'a.db'}"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    assert resolve_url() == "postgresql://u@h/db"
    monkeypatch.delenv("CIFAR_TUI_DB")
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path / "home"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'home' / 'runs.db'}"
    monkeypatch.delenv("CIFAR_TUI_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path))
    default = resolve_url()
    assert default.startswith("sqlite:///") and default.endswith("cifar-tui/runs.db")


def test_store_opens_the_env_database_and_creates_its_folder(tmp_path, monkeypatch) -> None:
    target = tmp_path / "deep" / "er" / "runs.db"
    monkeypatch.setenv("CIFAR_TUI_DB", str(target))
    with RunStore() as store:
        assert store.url == f"sqlite:///{target}"
    assert target.exists()


def test_in_memory_sqlite_works_for_throwaway_stores() -> None:
    with RunStore("sqlite://") as store:
        run_id = store.create_run(RunConfig())
        assert store.get_run(run_id).status == "queued"


def test_storage_and_history_cli_import_without_torch_or_textual() -> None:
    import subprocess
    import sys

    code = ("import sys, storage, worker.recorder, cli.history; "
            "bad = [m for m in ('torch', 'textual') if m in sys.modules]; "
            "assert not bad, bad")
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_schema_head_constant_matches_the_newest_migration() -> None:
    from storage.db import SCHEMA_HEAD

    assert SCHEMA_HEAD == head_revision()


def test_opening_an_up_to_date_store_does_not_import_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "current.db"
    RunStore(str(path)).close()
    code = (f"import sys; from storage import RunStore; RunStore({str(path)!r}).close(); "
            "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_display_url_masks_a_database_password() -> None:
    from storage.db import display_url

    shown = display_url("postgresql+psycopg2://ct:s3cret@db.example/runs")
    assert "s3cret" not in shown and shown == "postgresql+psycopg2://ct:***@db.example/runs"
    assert display_url("sqlite:////tmp/runs.db") == "sqlite:////tmp/runs.db"
