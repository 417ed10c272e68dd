"""Which runs ended (completed or failed) since the last poll, for the App's notification.

Runs are compared between polls of the store, so a run ended by any process (a worker,
a foreground `train`, another machine) is told in every open TUI. Runs that had already
ended when the app opened are never told: the first poll only takes stock.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from storage.records import RunFilter, RunSummary
from tui.format import ACTIVE

if TYPE_CHECKING:
    from storage.runs import RunStore

ENDED = ("completed", "failed")  # cancelled and interrupted runs were stopped on purpose
RECENT = 20  # ended runs read per poll, newest first: more ending within one poll is unlikely


class RunWatch:
    """Polled from a job thread; a poll still running makes the next one a no-op."""

    def __init__(self) -> None:
        self._busy = threading.Lock()
        self._stocked = False
        self._max_id = 0  # runs created after the app opened have larger ids
        self._active: set[int] = set()  # queued or running at some poll
        self._told: set[tuple[int, datetime | None]] = set()  # (run, its end) already seen
        self.polls = 0  # finished polls: lets a caller wait for a few to go by

    def poll(self, store: RunStore) -> list[RunSummary] | None:
        """Runs that ended since the last poll, oldest first; None if a poll was running."""
        if not self._busy.acquire(blocking=False):
            return None
        try:
            ended = self._poll(store)
            self.polls += 1
            return ended
        finally:
            self._busy.release()

    def _poll(self, store: RunStore) -> list[RunSummary]:
        active = store.list_runs(RunFilter(status=ACTIVE), limit=500)
        ended = store.list_runs(RunFilter(status=ENDED), sort="finished_at", limit=RECENT)
        if not self._stocked:
            newest = store.list_runs(sort="id", limit=1)
            self._max_id = max((r.id for r in (*active, *ended, *newest)), default=0)
            self._told = {(r.id, r.finished_at) for r in ended}
            self._active = {r.id for r in active}
            self._stocked = True
            return []
        # An ended run is new if it was seen queued or running, or was created since the
        # app opened; a run long finished that reappears in the list (others deleted) is not.
        fresh = [r for r in ended if (r.id, r.finished_at) not in self._told
                 and (r.id in self._active or r.id > self._max_id)]
        self._told.update((r.id, r.finished_at) for r in fresh)
        self._active = (self._active | {r.id for r in active}) - {r.id for r in fresh}
        self._max_id = max([self._max_id, *(r.id for r in (*active, *ended))])
        return list(reversed(fresh))
