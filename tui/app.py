"""The cifar-tui app: composes the screens and routes the messages between them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from storage.runs import RunStore
from tui import format as fmt
from tui.context import AppContext
from tui.jobs import failure_text, job
from tui.messages import (
    CancelRequested,
    CompareRequested,
    DuplicateRequested,
    OpenRequested,
    RunChanged,
    RunQueued,
)
from tui.screens.compare import CompareScreen
from tui.screens.confirm import ConfirmDialog
from tui.screens.detail import RunDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.home import HomeScreen
from tui.screens.live import LiveRunScreen
from tui.screens.new_run import NewRunScreen
from worker import launcher


class CifarTui(App[None]):
    TITLE = "cifar-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx

    def get_default_screen(self) -> Screen:
        return HomeScreen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("New run", "Open the form to queue a training run", self.action_new_run)
        yield SystemCommand("Runs", "Back to the run history", self.action_home)
        if isinstance(screen, HomeScreen):
            yield SystemCommand("Compare marked runs", "Side by side, curves overlaid",
                                screen.action_compare)
            yield SystemCommand("Open selected run", "Live view or detail", screen.action_open)
            yield SystemCommand("Duplicate selected run", "New run form prefilled",
                                screen.action_duplicate)
            yield SystemCommand("Cancel selected run", "Asks first", screen.action_cancel_run)
            yield SystemCommand("Cycle sort column", "Sort the history", screen.action_cycle_sort)
        yield SystemCommand("Help", "Every key, by screen", self.action_help)
        yield from super().get_system_commands(screen)

    # -- routing --------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_home(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_new_run(self, source_run: int | None = None) -> None:
        self.push_screen(NewRunScreen(source_run))

    @on(OpenRequested)
    def _open(self, event: OpenRequested) -> None:
        live = event.view == "live"
        self.push_screen(LiveRunScreen(event.run_id) if live else RunDetailScreen(event.run_id))

    @on(DuplicateRequested)
    def _duplicate(self, event: DuplicateRequested) -> None:
        self.action_new_run(event.run_id)

    @on(CompareRequested)
    def _compare(self, event: CompareRequested) -> None:
        self.push_screen(CompareScreen(event.run_ids))

    @on(RunQueued)
    def _queued(self, event: RunQueued) -> None:
        started = f"; started a worker (pid {event.worker_pid})" if event.worker_pid else ""
        self.notify(f"Queued run #{event.run_id}{started}.")
        self._refresh_home()

    @on(RunChanged)
    def _changed(self) -> None:
        self._refresh_home()

    def _refresh_home(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.reload(keep_loaded=True)

    @on(Worker.StateChanged)
    def _job_failed(self, event: Worker.StateChanged) -> None:
        """The one place a failed background job is told: every job is the App's (tui.jobs)."""
        if event.state is not WorkerState.ERROR or event.worker.error is None:
            return
        text = failure_text(event.worker.error, lambda exc: launcher.save_traceback(exc, "tui"))
        self.notify(text, title="Failed", severity="error", timeout=10)

    # -- cancelling (asked from home, live and detail) ---------------------------
    @on(CancelRequested)
    def _cancel_asked(self, event: CancelRequested) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel(event.run_id)

        self.push_screen(ConfirmDialog(f"Cancel run #{event.run_id}? "
                                       "A running run stops after its current step.",
                                       yes="Cancel run"), answered)

    @job("cancel")
    def _cancel(self, run_id: int) -> None:
        outcome = self.ctx.store.request_cancel(run_id)
        words = ("cancelled" if outcome == "cancelled"
                 else "asked to stop (the worker stops it shortly)")
        self.call_from_thread(self.notify, f"Run #{run_id} {words}.")
        self.post_message(RunChanged(run_id))


def make_app(
    db_url: str | None = None,
    *,
    store: RunStore | None = None,
    poll_interval: float | None = 1.0,
    clock: fmt.Clock = fmt.utc_now,
    start_worker: Callable[[str], int] | None = None,
    worker_alive: Callable[[], bool] | None = None,
) -> CifarTui:
    """Build the app for ``main()`` and the tests alike.

    ``start_worker`` and ``worker_alive`` default to the real launcher, for this store's
    own worker (another store's never claims its runs); tests pass recorders so no
    process is spawned. ``poll_interval=None`` turns live polling off.
    """
    store = store or RunStore(db_url)
    ctx = AppContext(
        store=store,
        clock=clock,
        poll_interval=poll_interval,
        # The store id is read when first needed, in a job thread, not while building.
        start_worker=start_worker or (
            lambda url: launcher.start_worker(url, store.store_id, "auto")),
        worker_alive=worker_alive or (
            lambda: launcher.any_live_worker(store.store_id) is not None),
    )
    return CifarTui(ctx)


def active_counts(store: RunStore) -> dict[Literal["queued", "running"], int]:
    """How many runs are still queued and running: said on quit."""
    from storage.records import RunFilter

    statuses = ("queued", "running")
    return {s: store.count_runs(RunFilter(status=s)) for s in statuses}  # type: ignore[misc]
