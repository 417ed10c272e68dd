"""The store's one error boundary: every SQLAlchemy, driver or file error becomes a
``StoreError`` whose one-line message names the problem and the fix.

Modelled on optuna's ``_create_scoped_session`` (roll back, re-raise as its own
error) and mlflow's ``make_managed_session``; callers only ever see ``StoreError``.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from engine.formatting import first_line
from storage.errors import (
    NotAStore,
    StoreBusy,
    StoreDiskFull,
    StoreError,
    StoreInternalError,
    StoreReadOnly,
    StoreUnavailable,
)

# Driver module -> the pip package that provides it, for "pip install ..." advice.
# psycopg (3) is the driver cifar-tui's own `postgres` extra installs.
DRIVER_PACKAGES = {
    "psycopg": "'cifar-tui[postgres]'", "psycopg2": "psycopg2-binary", "pg8000": "pg8000",
    "asyncpg": "asyncpg", "MySQLdb": "mysqlclient", "pymysql": "PyMySQL",
    "mysql": "mysql-connector-python", "oracledb": "oracledb", "pyodbc": "pyodbc",
}
FULL_BELOW_BYTES = 256 * 1024  # less free space than this beside a store counts as full
FIX_DB = "pass --db pointing at a store file or a new path"


def reason_of(exc: BaseException) -> str:
    """The driver's own words, on one line, without SQLAlchemy's background link."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(inner).split("(Background on this error", 1)[0]
    return first_line(text) or type(inner).__name__


def as_store_error(exc: BaseException, label: str) -> StoreError:
    """The ``StoreError`` that says what ``exc`` means for the store ``label``."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ModuleNotFoundError):
        module = (exc.name or "").split(".")[0] or "?"
        package = DRIVER_PACKAGES.get(module, module)
        return StoreUnavailable(
            f"the database driver for {label} is not installed (no module {module!r}); "
            f"pip install {package}")
    if isinstance(exc, NoSuchModuleError):
        scheme = label.split("://", 1)[0]
        return StoreUnavailable(
            f"unknown database scheme {scheme!r} in {label}; pass a SQLite file path or a "
            "SQLAlchemy URL such as sqlite:///runs.db or postgresql://user@host/db")
    if isinstance(exc, ArgumentError):
        return StoreUnavailable(f"cannot read {label} as a database URL ({reason_of(exc)}); "
                                "pass a SQLite file path or a SQLAlchemy URL")
    reason = reason_of(exc)
    low = reason.lower()
    if is_disk_full(exc, low) or ("i/o error" in low and no_space_beside(label)):
        return StoreDiskFull(f"disk full: the store {label} could not be written ({reason}); "
                             "free space on its disk, or pass --db on another disk")
    if "locked" in low or "busy" in low:
        return StoreBusy(f"the store {label} is busy (locked by another process: {reason}); "
                         "try again when that process is done")
    if "not a database" in low or "malformed" in low:
        return NotAStore(f"{label} is not a cifar-tui store ({reason}); {FIX_DB}")
    if "readonly" in low or "read-only" in low:
        return StoreReadOnly(f"the store {label} is read-only ({reason}); "
                             "make it writable or pass another --db")
    if isinstance(exc, OSError):
        return StoreUnavailable(f"cannot open the store {label} ({exc.strerror or reason}); "
                                "check the path and its permissions")
    if "unable to open" in low:
        return StoreUnavailable(f"cannot open the store {label} ({reason}); "
                                "check the path and its permissions")
    if "authentication failed" in low:  # before "connect": libpq says "connection failed" too
        return StoreUnavailable(f"the store {label} refused the login ({reason}); check the "
                                "user and password in the --db URL")
    unreachable = ("connect", "resolve host", "timeout expired")  # refused, no DNS, silent
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or any(
            word in low for word in unreachable):
        return StoreUnavailable(f"cannot reach the store {label} ({reason}); check that the "
                                "database server is running and the --db URL is right")
    return StoreInternalError(f"the store {label} failed ({type(exc).__name__}: {reason}); "
                              "try again, and report it if it persists")


def is_disk_full(exc: BaseException, low_reason: str) -> bool:
    """SQLite's SQLITE_FULL, PostgreSQL's "No space left on device", or ENOSPC itself."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "disk is full" in low_reason or "no space left" in low_reason


def no_space_beside(label: str) -> bool:
    """Whether a SQLite store's folder is (nearly) full: SQLite reports a -shm or -wal file
    it could not create on a full disk as a plain "disk I/O error"."""
    if "://" in label:
        return False
    try:
        return shutil.disk_usage(Path(label).parent).free < FULL_BELOW_BYTES
    except OSError:
        return False


@contextlib.contextmanager
def store_errors(label: str, opening: bool = False) -> Iterator[None]:
    """Re-raise database errors inside the block as ``StoreError``. While ``opening``,
    file errors and a missing driver module count too; later they would be bugs."""
    caught: tuple[type[BaseException], ...] = (SQLAlchemyError, sqlite3.Error)
    if opening:
        caught += (OSError, ModuleNotFoundError)
    try:
        yield
    except StoreError:
        raise
    except caught as exc:
        raise as_store_error(exc, label) from exc
