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


class StoreUnavailable(StoreError):
    """The store cannot be opened or reached: its path, permissions, driver or server."""


class NotAStore(StoreUnavailable):
    """The path holds something other than a cifar-tui store."""


class StoreReadOnly(StoreUnavailable):
    """The store (or its folder) cannot be written, and every command may write."""


class StoreDiskFull(StoreError):
    """The disk under the store is full: nothing can be written until space is freed."""


class StoreBusy(StoreError):
    """Another process held the store's write lock through every retry."""


class StoreInternalError(StoreError):
    """Any other database failure, wrapped once at the store's boundary (as optuna does)."""


class EditConflict(StoreError):
    """A note edit was based on an older version than the stored one; nothing was written."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        super().__init__(f"the note of run {run_id} was changed elsewhere since you opened it; "
                         "reload to see it, then edit again")


class SweepNotFound(StoreError, LookupError):
    def __init__(self, sweep_id: int):
        super().__init__(f"no sweep {sweep_id}; `cifar-tui sweeps` lists them")
