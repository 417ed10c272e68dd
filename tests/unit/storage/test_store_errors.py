"""Every store problem reaches the user as one line naming the problem and the fix.

Real files, real SQLite and the real CLI: a bad --db, a locked store, a huge run id,
and a bug, which prints one line and saves its traceback instead of showing it.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support.store import PG_URL, cfg

from cli.main import main
from storage import NotAStore, RunNotFound, RunStore, StoreBusy, StoreReadOnly, StoreUnavailable
from storage.db import driver_url

REPO = Path(__file__).resolve().parents[3]


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI, expect exit code 2 and a single `cifar-tui: error:` line; return it."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("cifar-tui: error: "), err
    return err.strip()


def text_file(tmp: Path) -> str:
    (tmp / "notes.txt").write_text("these are my notes, not a database\n" * 20)
    return str(tmp / "notes.txt")


def binary_file(tmp: Path) -> str:
    (tmp / "weights.bin").write_bytes(bytes(range(256)) * 40)
    return str(tmp / "weights.bin")


def foreign_sqlite(tmp: Path) -> str:
    with sqlite3.connect(tmp / "other.db") as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    db.close()
    return str(tmp / "other.db")


BAD_DBS: dict[str, tuple[Callable[[Path], str], str]] = {
    "text file": (text_file, "is not a cifar-tui store (file is not a database); pass --db"),
    "binary file": (binary_file, "is not a cifar-tui store (file is not a database)"),
    "dev null": (lambda _: os.devnull, "/dev/null is not a cifar-tui store (not a regular file)"),
    "proc file": (lambda _: "/proc/version", "/proc/version is not a cifar-tui store"),
    "folder": (lambda tmp: str(tmp), "is a folder, not a database file"),
    "unknown scheme": (lambda _: "foo://somewhere/runs", "unknown database scheme 'foo'"),
    "other tables": (foreign_sqlite, "is not a cifar-tui run store (it has other tables)"),
    "missing folder": (lambda tmp: str(tmp / "typo" / "runs.db"),
                       "no such folder " "{tmp}/typo for the store runs.db; create it or fix"),
}


@pytest.mark.parametrize("case", list(BAD_DBS))
def test_a_bad_db_is_one_line_naming_the_problem(case: str, tmp_path: Path, capsys) -> None:
    make, expected = BAD_DBS[case]
    line = one_line_error(capsys, "--db", make(tmp_path), "runs")
    assert expected.format(tmp=tmp_path) in line


def test_a_missing_folder_is_refused_not_created(tmp_path: Path, capsys) -> None:
    one_line_error(capsys, "--db", str(tmp_path / "typo" / "runs.db"), "runs")
    assert not (tmp_path / "typo").exists()


def test_dev_null_is_refused_before_sqlite_writes_a_journal_beside_it(capsys) -> None:
    journals = [Path(os.devnull + suffix) for suffix in ("-journal", "-wal", "-shm")]
    before = {p for p in journals if p.exists()}
    with pytest.raises(NotAStore):
        RunStore(os.devnull)
    one_line_error(capsys, "--db", os.devnull, "runs")
    assert {p for p in journals if p.exists()} == before


def test_a_missing_driver_names_the_extra_to_install(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an install without it sees
    line = one_line_error(capsys, "--db", "postgresql://someone@localhost/runs", "runs")
    assert "driver" in line and "not installed" in line
    assert "pip install 'cifar-tui[postgres]'" in line
    with pytest.raises(StoreUnavailable):
        RunStore("postgresql://someone@localhost/runs")


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    assert driver_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert driver_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert driver_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert driver_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is None, reason="psycopg not installed")
@pytest.mark.parametrize("url", ["postgresql://ct:s3cret@127.0.0.1:1/runs",
                                 "postgresql://ct:s3cret@no-such-host.invalid/runs"])
def test_an_unreachable_server_is_one_line_with_the_password_masked(url: str, capsys) -> None:
    for command in (["runs"], ["queue", "--dataset", "synthetic", "--no-worker"]):
        line = one_line_error(capsys, *command, "--db", url)
        assert "cannot reach the store postgresql://ct:***@" in line
        assert "s3cret" not in line and "database server is running" in line


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL offered (set CIFAR_TUI_TEST_PG_URL)")
def test_a_wrong_password_is_one_line_naming_the_login(capsys) -> None:
    url = make_url(PG_URL).set(password="wrong-s3cret").render_as_string(hide_password=False)
    line = one_line_error(capsys, "runs", "--db", url)
    assert "refused the login" in line and "user and password" in line
    assert "wrong-s3cret" not in line


def test_a_mode_000_store_is_refused_as_unreadable(db_path: Path, capsys) -> None:
    RunStore(str(db_path)).close()
    db_path.chmod(0)
    try:
        line = one_line_error(capsys, "--db", str(db_path), "runs")
    finally:
        db_path.chmod(0o644)
    assert "is not readable (mode 000); chmod u+rw" in line


def test_a_read_only_folder_is_refused_and_nothing_is_created(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = one_line_error(capsys, "queue", "--dataset", "synthetic", "--no-worker",
                              "--db", str(folder / "runs.db"))
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)
    assert f"the folder {folder} is read-only; pass another --db" in line


def test_a_read_only_store_is_refused_with_the_fix(db_path: Path, capsys) -> None:
    RunStore(str(db_path)).close()
    db_path.chmod(0o444)
    try:
        line = one_line_error(capsys, "--db", str(db_path), "runs")
        with pytest.raises(StoreReadOnly):
            RunStore(str(db_path))
    finally:
        db_path.chmod(0o644)
    assert "is read-only; make it writable" in line


def test_the_process_prints_no_traceback_for_a_bad_db(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cifar_tui", "--db", binary_file(tmp_path), "runs"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "is not a cifar-tui store (file is not a database)" in result.stderr


def test_a_write_to_a_locked_store_raises_store_busy_after_its_retries(db_path: Path) -> None:
    store = RunStore(str(db_path), busy_timeout_ms=20, lock_retries=2)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        with pytest.raises(StoreBusy) as caught:
            store.create_run(cfg())
        message = str(caught.value)
        assert "is busy (locked by another process" in message and "try again" in message
        assert "\n" not in message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.create_run(cfg()) == 1  # the lock is gone: the same store writes again
    store.close()


@pytest.mark.parametrize("ref", ["99999999999999999999999", "#4294967296", "9" * 5000])
def test_a_huge_run_id_is_no_run_not_an_overflow(ref: str, db_path: Path, capsys) -> None:
    RunStore(str(db_path)).close()
    for command in (["show"], ["cancel"], ["resume"], ["rm", "-y"], ["note"], ["tag"],
                    ["compare", "1"], ["export"]):
        extra = ["x"] if command[0] in ("note", "tag") else []
        line = one_line_error(capsys, command[0], ref, *command[1:], *extra, "--db", str(db_path))
        assert "no run with id" in line, command
    with RunStore(str(db_path)) as store:
        with pytest.raises(RunNotFound):
            store.get_run(10**30)


@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "1000001", "9" * 5000])
@pytest.mark.parametrize("flag", ["--limit", "--offset"])
def test_a_huge_page_size_is_a_usage_error(flag: str, value: str, db_path: Path,
                                           capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["runs", flag, value, "--db", str(db_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"argument {flag}: expected a whole number" in err


@pytest.mark.parametrize("value", ["1e308", "nan", "inf", "-1"])
def test_a_huge_or_odd_cancel_wait_is_a_usage_error(value: str, db_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["cancel", "1", "--wait", value, "--db", str(db_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "argument --wait: expected seconds from 0 to 86400" in err


def test_searching_for_a_huge_id_matches_nothing(db_path: Path, capsys) -> None:
    with RunStore(str(db_path)) as store:
        store.create_run(cfg(), name="resnet-42")
    for text in ("#99999999999999999999999", "4294967296", "9" * 5000):
        assert main(["runs", "--search", text, "--db", str(db_path)]) == 0
        out, err = capsys.readouterr()
        assert out.strip() == "no runs match" and err == ""


def test_a_bug_prints_one_line_and_saves_the_traceback(
    db_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, isolated_env: Path,
) -> None:
    import cli.history

    def broken(_args: object) -> int:
        raise ZeroDivisionError("division by zero\nin a second line")

    monkeypatch.setattr(cli.history, "cmd_runs", broken)
    code = main(["runs", "--db", str(db_path)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected ZeroDivisionError: division by zero (a bug; the traceback is in" in err
    saved = Path(err.rsplit("the traceback is in ", 1)[1].rstrip(")\n"))
    assert saved.is_relative_to(isolated_env / "logs")
    assert "Traceback" in saved.read_text() and "def broken" not in err
