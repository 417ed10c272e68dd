"""What the runs list's poll reads from the store, in its job thread: the active runs,
those that just stopped, the count, the worker, and marked runs deleted elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.errors import RunNotFound
from storage.records import RunFilter, RunSummary
from tui.format import ACTIVE

if TYPE_CHECKING:
    from tui.context import AppContext


@dataclass(frozen=True)
class PollResult:
    runs: list[RunSummary]  # active runs plus any that just stopped being active
    total: int
    worker_alive: bool
    gone: set[int]  # marked runs that no longer exist


def poll_runs(ctx: AppContext, was_active: set[int], flt: RunFilter,
              marked: list[int]) -> PollResult:
    store = ctx.store
    store.reap_lost_runs()  # a run whose process is gone must not show "running"
    active = store.list_runs(RunFilter(status=ACTIVE), limit=500)
    stopped = [run for run_id in was_active - {r.id for r in active}
               if (run := _summary(ctx, run_id)) is not None]
    gone = {run_id for run_id in marked if _summary(ctx, run_id) is None}
    return PollResult([*active, *stopped], store.count_runs(flt), ctx.worker_alive(), gone)


def _summary(ctx: AppContext, run_id: int) -> RunSummary | None:
    try:
        return ctx.store.get_run(run_id)
    except RunNotFound:
        return None  # deleted since the last poll
