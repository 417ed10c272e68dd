"""What every screen needs from the app: the store, the clock and how to start a worker.

Injected through ``make_app`` so tests can fix the clock, turn polling off and
record worker starts instead of spawning processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.format import Clock

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from storage.runs import RunStore
    from worker.launcher import WorkerInfo


class StoreSlot:
    """The store, opened in a thread so the first frame never waits for SQLAlchemy
    (about 0.5 s to import); whoever reads it waits until it is open."""

    def __init__(self, store: RunStore | None = None, db_url: str | None = None) -> None:
        self.db_url = db_url
        self._store = store
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._started = store is not None
        if store is not None:
            self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self) -> None:
        """Begin opening in a daemon thread (once)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._open, name="open-store", daemon=True).start()

    def _open(self) -> None:
        try:
            from storage.runs import RunStore

            self._store = RunStore(self.db_url)
        except BaseException as exc:  # told by whoever reads the store
            self.error = exc
        finally:
            self._ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        self.start()
        return self._ready.wait(timeout)

    def get(self) -> RunStore:
        self.wait()
        if self.error is not None:
            raise self.error
        assert self._store is not None
        return self._store


@dataclass
class AppContext:
    slot: StoreSlot
    clock: Clock
    poll_interval: float | None  # None: load once, never poll (snapshots)
    start_worker: Callable[[str], int]  # db url -> pid
    worker_alive: Callable[[], bool]
    live_workers: Callable[[], list[WorkerInfo]]  # every store's, for the workers panel
    stop_worker: Callable[[], bool]  # this store's workers; True when all stopped

    @property
    def store(self) -> RunStore:
        """The open store; waits for it (read it in a job, not on the event loop)."""
        return self.slot.get()


def context_of(node: DOMNode) -> AppContext:
    ctx: Any = node.app
    return ctx.ctx  # type: ignore[no-any-return]
