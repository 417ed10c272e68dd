"""The store's session scope: opening, the transactions, and the id and status checks
every repository method shares. ``RunStore`` builds on it.

Writes are short transactions that take SQLite's write lock up front
(BEGIN IMMEDIATE) and wait on the busy timeout, so several processes can
write, claim and read at once without anyone seeing "database is locked".
Both scopes roll back on any error and re-raise it as a ``StoreError``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.db import (
    BUSY_TIMEOUT_MS,
    LOCK_RETRIES,
    WRITE_OPTIONS,
    display_url,
    open_database,
    retry_locked,
    session_factory,
    store_label,
)
from storage.errors import InvalidRunState, RunNotFound
from storage.guard import store_errors
from storage.schema import MAX_RUN_ID, Run, utcnow

T = TypeVar("T")
S = TypeVar("S", bound="StoreSession")


def check_id(run_id: int) -> None:
    """No run has an id beyond the column's range; asking would overflow the driver."""
    if not 0 < run_id <= MAX_RUN_ID:
        raise RunNotFound(run_id)


class StoreSession:
    """Open (and migrate) the store at ``url``: a SQLAlchemy URL or a SQLite file path;
    None means $CIFAR_TUI_DB, else runs.db in the user data folder.

    Every failure is a ``StoreError``: a write SQLite still finds locked after
    ``busy_timeout_ms`` and ``lock_retries`` attempts raises ``StoreBusy``."""

    def __init__(
        self, url: str | os.PathLike[str] | None = None,
        clock: Callable[[], datetime] = utcnow, *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS, lock_retries: int = LOCK_RETRIES,
    ):
        self.url, self._engine = open_database(url, busy_timeout_ms)
        self._label = store_label(self.url)
        self._lock_retries = lock_retries
        self._clock = clock  # stamps every time the store writes; tests pass a fixed one
        self._sessions = session_factory(self._engine)
        self._dialect = self._engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for logs, lock files and status lines."""
        return display_url(self.url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transactions: the one session scope, which rolls back and wraps errors -----

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with store_errors(self._label), self._sessions() as s:
            yield s

    def _write(self, work: Callable[[Session], T]) -> T:
        def attempt() -> T:
            with self._sessions.begin() as s:  # rolls back when work raises
                s.connection(execution_options=WRITE_OPTIONS)
                return work(s)

        with store_errors(self._label):
            return retry_locked(attempt, self._lock_retries)

    @staticmethod
    def _status(s: Session, run_id: int) -> str:
        check_id(run_id)
        status = s.execute(select(Run.status).where(Run.id == run_id)).scalar_one_or_none()
        if status is None:
            raise RunNotFound(run_id)
        return status

    def _require(self, s: Session, run_id: int, allowed: Sequence[str], action: str) -> str:
        status = self._status(s, run_id)
        if status not in allowed:
            raise InvalidRunState(
                f"run {run_id} is {status}; only {' or '.join(allowed)} runs can be {action}"
            )
        return status

    def _set(self, s: Session, run_id: int, **values: Any) -> None:
        s.execute(update(Run).where(Run.id == run_id).values(**values)
                  .execution_options(synchronize_session=False))
