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
    ClaimedRun,
    Comparison,
    EpochRow,
    RunDetail,
    RunFilter,
    RunSummary,
    StepRow,
)
from storage.runs import RunStore
from storage.schema import STATUSES, TERMINAL_STATUSES

__all__ = [
    "RunStore", "RunFilter", "RunSummary", "RunDetail", "EpochRow", "StepRow", "ClaimedRun",
    "Comparison", "SORTABLE", "STATUSES", "TERMINAL_STATUSES", "StoreError", "RunNotFound",
    "InvalidRunState", "SchemaTooNewError", "BadFilter", "StoreUnavailable", "NotAStore",
    "StoreReadOnly", "StoreBusy", "StoreInternalError", "EditConflict",
]
