"""Engine and session factory: URL resolution, SQLite pragmas, migrations.

Everything SQLite-only is behind a dialect check, so a PostgreSQL URL works too.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from engine.paths import app_home
from storage.errors import (
    NotAStore,
    SchemaTooNewError,
    StoreReadOnly,
    StoreUnavailable,
)
from storage.guard import FIX_DB, store_errors

ENV_VAR = "CIFAR_TUI_DB"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10  # a PostgreSQL server that never answers: refused after this
LOCK_RETRIES = 8  # attempts at a write that SQLite still reports locked after busy_timeout
SQLITE_HEADER = b"SQLite format 3\x00"
# Execution option that makes a transaction take SQLite's write lock up front
# (BEGIN IMMEDIATE). A deferred transaction that reads and then writes can fail
# with "database is locked" at once, without waiting for the busy timeout.
WRITE_OPTIONS = {"cifar_tui_write": True}
# Our Alembic version table. Optuna's RDB storage keeps sweep studies in the same database
# and owns Alembic's default name, alembic_version; stores before 0006 used that name.
VERSION_TABLE = "cifar_tui_version"
LEGACY_VERSION_TABLE = "alembic_version"

T = TypeVar("T")


def default_db_path() -> Path:
    """The default store sits in the one app folder, beside checkpoints and worker logs."""
    return app_home() / "runs.db"


def display_url(url: str) -> str:
    """``url`` with its password masked, for anything a person or ``ps`` may read."""
    return make_url(url).render_as_string(hide_password=True)


def resolve_url(url: str | os.PathLike[str] | None = None) -> str:
    """Explicit argument > $CIFAR_TUI_DB > the user data folder; a bare path means SQLite."""
    chosen = os.fspath(url) if url is not None else None
    if not chosen:
        chosen = os.environ.get(ENV_VAR) or None
    if not chosen:
        chosen = str(default_db_path())
    if "://" in chosen:
        return chosen
    return "sqlite:///" + str(Path(chosen).expanduser().resolve())


def driver_url(url: str) -> str:
    """A plain ``postgresql://`` URL uses psycopg 3, SQLAlchemy 2.1's default and the one
    driver cifar-tui installs (``cifar-tui[postgres]``); SQLAlchemy 2.0 would pick psycopg2.
    An explicit ``postgresql+driver://`` stands."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return url


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other backends and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    return Path(database)


def is_locked_error(exc: BaseException) -> bool:
    if not isinstance(exc, OperationalError):
        return False
    message = str(exc.orig if exc.orig is not None else exc).lower()
    return "locked" in message or "busy" in message


def retry_locked(fn: Callable[[], T], attempts: int = LOCK_RETRIES) -> T:
    """Run ``fn``, retrying if SQLite still reports a lock after its busy timeout.
    The last ``OperationalError`` goes on to the store's boundary (storage.guard)."""
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if not is_locked_error(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 1.0))
    raise AssertionError("unreachable")


def check_sqlite_file(path: Path, create_folder: bool) -> None:
    """Refuse, before SQLite touches anything, a path that cannot hold a store: SQLite
    would create folders' files, journals beside /dev/null, or fail with a traceback."""
    if path.is_dir():
        raise NotAStore(f"{path} is a folder, not a database file; pass a file path to --db")
    if path.exists():
        if not path.is_file():
            raise NotAStore(f"{path} is not a cifar-tui store (not a regular file); {FIX_DB}")
        if not path.stat().st_mode & 0o444:  # mode 000: root could still read it, but should not
            raise StoreUnavailable(f"the store {path} is not readable (mode 000); "
                                   "chmod u+rw it or pass another --db")
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:  # an empty file is a new database
            raise NotAStore(f"{path} is not a cifar-tui store (file is not a database); {FIX_DB}")
        # Mode bits too: root may write a file anyone marked read-only, but should not.
        if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
            raise StoreReadOnly(f"the store {path} is read-only; make it writable "
                                "(chmod u+w) or pass another --db")
        return
    folder = path.parent
    if not folder.exists():
        if not create_folder:
            raise StoreUnavailable(f"no such folder {folder} for the store {path.name}; "
                                   "create it or fix the path")
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise StoreUnavailable(f"{folder} is not a folder, so {path.name} cannot be created "
                               "in it; fix the path")
    if not os.access(folder, os.W_OK) or not folder.stat().st_mode & 0o222:
        raise StoreReadOnly(f"cannot create the store {path}: the folder {folder} is "
                            "read-only; pass another --db")


def make_engine(
    url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, create_folder: bool = True
) -> Engine:
    """The engine for ``url``; ``create_folder`` makes a missing SQLite folder (only for
    the default or $CIFAR_TUI_DB location, never for a path typed by the user)."""
    parsed = make_url(driver_url(url))
    if parsed.get_backend_name() != "sqlite":
        # libpq waits forever on a silent host by default; a store should answer in seconds
        wait = {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_S}
        connect_args = wait if parsed.get_driver_name() in ("psycopg", "psycopg2") else {}
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    path = sqlite_path(url)
    kwargs: dict[str, Any] = {}
    if path is None:  # in-memory: one shared connection, or each would see its own database
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        check_sqlite_file(path, create_folder)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below), so sqlite3 must not.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # WAL + NORMAL: a crash of the app loses nothing; only power loss can
        # drop the last commits. WAL itself is set once per file in migrate(),
        # after the schema check, because it rewrites the file header.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("cifar_tui_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# -- migrations -------------------------------------------------------------------


# The newest migration. An up-to-date store is recognised with one plain query, so
# opening it never imports Alembic (a fifth of the TUI's start-up); a test checks
# this equals Alembic's head.
SCHEMA_HEAD = "0006"


def alembic_config(connection: Any | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return _script().get_current_head() or ""


def known_revisions() -> set[str]:
    return {rev.revision for rev in _script().walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _context(conn).get_current_revision()


def _context(conn: Any) -> Any:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})


def _stored_revision(engine: Engine) -> str | None:
    """The schema version with plain SQL (None when unversioned)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def migrate(engine: Engine, url: str) -> None:
    """Bring the schema to head; refuse, untouched, a database from a newer version."""
    label = store_label(url)
    if _stored_revision(engine) == SCHEMA_HEAD:  # the common case: no Alembic import at all
        _ensure_wal(engine)
        return
    from alembic import command

    _adopt_legacy_version(engine, url, label)
    head = head_revision()
    current = current_revision(engine)
    _check_revision(engine, current, label)
    if current == head:
        _ensure_wal(engine)
        return
    with _migration_lock(engine, sqlite_path(url)):
        _ensure_wal(engine)
        with engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            current = _context(conn).get_current_revision()
            if current == head:  # another process migrated while we waited
                return
            _check_revision(engine, current, label, conn)
            command.upgrade(alembic_config(conn), "head")


def _check_revision(engine: Engine, current: str | None, label: str, conn: Any = None) -> None:
    if current is None:
        tables = set(inspect(conn if conn is not None else engine).get_table_names())
        if tables - {LEGACY_VERSION_TABLE, VERSION_TABLE}:
            raise NotAStore(
                f"{label} is not a cifar-tui run store (it has other tables); pass another --db"
            )
        return
    if current not in known_revisions():
        raise SchemaTooNewError(
            f"{label} was written by a newer cifar-tui (schema {current}); "
            "upgrade cifar-tui or pass another --db"
        )


def _adopt_legacy_version(engine: Engine, url: str, label: str) -> None:
    """A store from before 0006 keeps its revision in alembic_version: move it to our own
    table, so Optuna can have that name (once; under the migration lock)."""
    def legacy(conn: Any) -> bool:
        names = set(inspect(conn).get_table_names())
        return "runs" in names and LEGACY_VERSION_TABLE in names and VERSION_TABLE not in names

    with engine.connect() as conn:
        if not legacy(conn):
            return
    with _migration_lock(engine, sqlite_path(url)):
        with engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            if not legacy(conn):  # another process moved it while we waited
                return
            revision = conn.execute(
                text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}")).scalar()
            if revision not in known_revisions():
                raise SchemaTooNewError(
                    f"{label} was written by a newer cifar-tui (schema {revision}); "
                    "upgrade cifar-tui or pass another --db")
            conn.execute(text(
                f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"))
            conn.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES (:v)"), {"v": revision})
            conn.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))


def _ensure_wal(engine: Engine) -> None:
    if engine.dialect.name != "sqlite" or isinstance(engine.pool, StaticPool):
        return
    raw = engine.raw_connection()
    try:
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            raw.execute("PRAGMA journal_mode = WAL")
    finally:
        raw.close()


@contextlib.contextmanager
def _migration_lock(engine: Engine, path: Path | None) -> Iterator[None]:
    """Serialize migrations across processes: a lock file beside a SQLite file,
    an advisory lock on PostgreSQL, nothing elsewhere."""
    if path is not None:
        with _file_lock(path.with_name(path.name + ".lock")):
            yield
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = 0x43494641  # "CIFA"
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    else:
        yield


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.05)
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def store_label(url: str) -> str:
    """How messages name a store: its file, else its URL with the password masked."""
    try:
        return str(sqlite_path(url) or display_url(url))
    except SQLAlchemyError:  # not even a URL: name it as typed
        return url


def open_database(
    url: str | os.PathLike[str] | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> tuple[str, Engine]:
    """Resolve, check, connect and migrate; the engine is disposed again on any error.
    Every failure is a one-line ``StoreError``. A folder is created only for the default
    or $CIFAR_TUI_DB location: a mistyped --db path is refused, not silently made."""
    explicit = url is not None and bool(os.fspath(url))
    resolved = resolve_url(url)
    with store_errors(store_label(resolved), opening=True):
        engine = make_engine(resolved, busy_timeout_ms, create_folder=not explicit)
        try:
            migrate(engine, resolved)
        except BaseException:
            engine.dispose()
            raise
    return resolved, engine
