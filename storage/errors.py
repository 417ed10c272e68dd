"""What the store raises. Every message is one line a user can act on."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error; the CLI prints its message as is."""


class RunNotFound(StoreError, LookupError):
    def __init__(self, run_ref: int | str):
        self.run_ref = run_ref
        what = f"id {run_ref}" if isinstance(run_ref, int) else f"id or name {run_ref!r}"
        super().__init__(f"no run with {what}; `cifar-tui runs` lists them")


class InvalidRunState(StoreError):
    """The run exists but its status does not allow the operation."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer cifar-tui; we refuse to touch it."""


class BadFilter(StoreError, ValueError):
    """An unknown sort column, status or similar in a list query."""
