"""What every screen needs from the app: the store, the clock and how to start a worker.

Injected through ``make_app`` so tests can fix the clock, turn polling off and
record worker starts instead of spawning processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.format import Clock

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from storage.runs import RunStore
    from worker.launcher import WorkerInfo


@dataclass
class AppContext:
    store: RunStore
    clock: Clock
    poll_interval: float | None  # None: load once, never poll (snapshots)
    start_worker: Callable[[str], int]  # db url -> pid
    worker_alive: Callable[[], bool]
    live_workers: Callable[[], list[WorkerInfo]]  # every store's, for the workers panel
    stop_worker: Callable[[], bool]  # this store's workers; True when all stopped


def context_of(node: DOMNode) -> AppContext:
    ctx: Any = node.app
    return ctx.ctx  # type: ignore[no-any-return]
