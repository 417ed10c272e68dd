"""The run history store: SQLAlchemy over SQLite by default, any SQLAlchemy URL.

``RunStore`` is the one API; nothing outside this package speaks SQL.
"""

from storage.errors import (
    BadFilter,
    EditConflict,
    InvalidRunState,
    NotAStore,
    RunNotFound,
    SchemaTooNewError,
    StoreBusy,
    StoreError,
    StoreInternalError,
    StoreReadOnly,
    StoreUnavailable,
)
from storage.records import (
    SORTABLE,
    STATUSES,
    TERMINAL_STATUSES,
    ClaimedRun,
    Comparison,
    EpochRow,
    RunDetail,
    RunFilter,
    RunSummary,
    StepRow,
)

# RunStore is imported on first use (PEP 562): it pulls in SQLAlchemy (about 0.5 s), and
# the TUI's first frame needs only the records and errors above.


def __getattr__(name: str) -> object:
    if name == "RunStore":
        from storage.runs import RunStore

        return RunStore
    raise AttributeError(f"module 'storage' has no attribute {name!r}")

__all__ = [
    "RunStore", "RunFilter", "RunSummary", "RunDetail", "EpochRow", "StepRow", "ClaimedRun",
    "Comparison", "SORTABLE", "STATUSES", "TERMINAL_STATUSES", "StoreError", "RunNotFound",
    "InvalidRunState", "SchemaTooNewError", "BadFilter", "StoreUnavailable", "NotAStore",
    "StoreReadOnly", "StoreBusy", "StoreInternalError", "EditConflict",
]
