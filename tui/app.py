"""The cifar-tui app: composes the screens and routes the messages between them."""

from __future__ import annotations

import asyncio
import gc
import importlib
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from storage.errors import StoreError
from storage.records import RunSummary
from tui import control
from tui import format as fmt
from tui.context import AppContext, StoreSlot
from tui.jobs import failure_text, job
from tui.messages import (
    CancelRequested,
    CompareRequested,
    DeleteRequested,
    DuplicateRequested,
    OpenRequested,
    ResumeRequested,
    RunChanged,
    RunQueued,
    WorkersChanged,
)
from tui.run_watch import RunWatch
from tui.screens.home import HomeScreen
from worker import launcher

if TYPE_CHECKING:
    from storage.runs import RunStore
    from tui.screens.new_run import NewRunScreen

# Screens other than home are imported when first needed, or by the warm-up job once the
# first page is drawn: importing them (plotext with the charts) delays the first rows.
LATER_SCREENS = ("compare", "confirm", "detail", "help", "live", "new_run", "sweeps", "system",
                 "workers")

# Run actions offered in the palette wherever the screen has them: (action, title, help).
RUN_COMMANDS = (
    ("cancel_run", "Cancel run", "Asks first; says so when there is nothing to cancel"),
    ("resume_run", "Resume run", "Requeue a stopped run from its last checkpoint"),
    ("delete_run", "Delete run", "Asks first, saying how much it frees"),
    ("run_log", "Run log", "The run's train.log, following it while the run trains"),
)


class CifarTui(App[None]):
    TITLE = "cifar-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("m", "system", "Machine: GPUs, CPU, RAM, disk", show=False),
    ]

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.run_watch = RunWatch()
        self.next_form: NewRunScreen | None = None  # composed ahead: `n` only shows it
        self.forms_built = 0
        self.quitting = False  # _shutdown began: build nothing more

    def on_mount(self) -> None:
        self._await_store()
        # Every screen's notifications come from here, so a run's end is told over any screen.
        if self.ctx.poll_interval:
            self.watch_runs()  # take stock now: runs already ended are never told
            self.set_interval(self.ctx.poll_interval, self.watch_runs)

    @job("open-store")
    def _await_store(self) -> None:
        """A store that cannot be opened (a bad --db) ends the app; the CLI says why."""
        self.ctx.slot.wait()
        if isinstance(self.ctx.slot.error, StoreError):
            self.call_from_thread(self.exit, None, 2)

    @job("run-watch")
    def watch_runs(self) -> None:
        """Tell each run that completed or failed since the last poll; ring unless told not to."""
        ended = self.run_watch.poll(self.ctx.store)
        if not ended:
            return
        from engine.settings import SettingsError, load

        try:
            bell = load().bell
        except SettingsError:
            bell = True  # `cifar-tui settings` names the broken file; the default stands
        self.call_from_thread(self._tell_ended, ended, bell)

    def _tell_ended(self, ended: list[RunSummary], bell: bool) -> None:
        from worker.notify import end_message

        for run in ended:
            text = end_message(run.id, run.name, run.status, run.final_val_acc, run.error)
            failed = run.status == "failed"
            self.notify(text, title="Run failed" if failed else "Run completed",
                        severity="error" if failed else "information", timeout=10)
        if bell:
            self.bell()

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
            yield SystemCommand("Cycle sort column", "Sort the history", screen.action_cycle_sort)
        for action, title, helptext in RUN_COMMANDS:
            if method := getattr(screen, f"action_{action}", None):
                yield SystemCommand(title, helptext, method)
        yield SystemCommand("Workers", "Start, stop and watch this store's worker",
                            self.action_workers)
        yield SystemCommand("Sweeps", "Every sweep; open one for its trials and charts",
                            self.action_sweeps)
        yield SystemCommand("Machine", "GPUs, CPU, RAM and disk, live", self.action_system)
        yield SystemCommand("Help", "Every key, by screen", self.action_help)
        yield from super().get_system_commands(screen)

    # -- ahead of time ------------------------------------------------------------
    @on(HomeScreen.PageLoaded)
    def _first_page_shown(self) -> None:
        """Once runs are on screen, get ready for what comes next, after that frame."""
        if self.next_form is None and self.forms_built == 0:
            self.call_after_refresh(self._warm_up)

    @job("warm-up")
    def _warm_up(self) -> None:
        """Import the other screens in a thread, so the first one opened does not wait;
        then (back on the app's thread) freeze what lives as long as the app and build
        the first form ahead."""
        for name in LATER_SCREENS:
            importlib.import_module(f"tui.screens.{name}")
        if self.is_running:
            self.call_from_thread(self._freeze_then_prepare)

    def _freeze_then_prepare(self) -> None:
        # Modules, styles, the store's machinery: ~150,000 objects that live as long as the
        # app, which every full collection scanned (0.1-0.3 s here, every few seconds while
        # a run streams: the p95 of the keys). Frozen, they are skipped; whatever is made
        # from now on is still collected. Before the first form is built: frozen, a form
        # could never be collected once closed. Unfrozen when the app ends.
        if not self.is_running or self.quitting:
            return  # quitting already: unmounted, nothing would unfreeze it
        gc.freeze()
        self.prepare_form()

    async def _shutdown(self) -> None:
        # Textual has no public hook before it stops every widget, and a screen stopped
        # while still being composed fails (its on_mount or a resize finds its children
        # missing): a traceback on quit. Let such screens, and the form built ahead, finish.
        self.quitting = True  # no form is begun from now on (prepare_form)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(s.is_mounted for s in self._building()):
            await asyncio.sleep(0.01)
        await super()._shutdown()

    def _building(self) -> list[Screen]:
        return [*self.screen_stack, *([self.next_form] if self.next_form else [])]

    def on_unmount(self) -> None:
        gc.unfreeze()  # a process that opens another app (the tests) can collect this one

    def prepare_form(self) -> None:
        """Compose and mount the next new-run form off screen, while the user looks at the
        runs: its ~150 widgets take about half a second to build here, showing it ~0.1 s.
        Each form is used once (popped, it is removed), so each open starts fresh."""
        if self.next_form is not None or not self.is_running or self.quitting:
            return
        from tui.screens.new_run import NewRunScreen

        self.next_form = NewRunScreen(collect_first=self.forms_built > 0)
        self.forms_built += 1
        # Textual's own step for a screen pushed the first time (App._get_screen): it
        # starts the screen's message loop, which composes and mounts it; not shown yet.
        self._register(self, self.next_form)

    # -- routing --------------------------------------------------------------
    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            if not self.is_screen_installed("help"):
                self.install_screen(HelpScreen(), "help")  # the same keys every time
            self.push_screen("help")

    def action_workers(self) -> None:
        from tui.screens.workers import WorkersScreen

        if not isinstance(self.screen, WorkersScreen):
            self.push_screen(WorkersScreen())

    def action_sweeps(self) -> None:
        from tui.screens.sweeps import SweepsScreen

        if not isinstance(self.screen, SweepsScreen):
            self.push_screen(SweepsScreen())

    def action_system(self) -> None:
        from tui.screens.system import SystemScreen

        if not isinstance(self.screen, SystemScreen):
            self.push_screen(SystemScreen())

    def action_home(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_new_run(self, source_run: int | None = None) -> None:
        from tui.screens.new_run import NewRunScreen

        form, self.next_form = self.next_form or NewRunScreen(), None
        if source_run is not None:
            form.duplicate(source_run)
        self.push_screen(form, lambda _: self.call_after_refresh(self.prepare_form))

    @on(OpenRequested)
    def _open(self, event: OpenRequested) -> None:
        from tui.screens.detail import RunDetailScreen
        from tui.screens.live import LiveRunScreen

        live = event.view == "live"
        self.push_screen(LiveRunScreen(event.run_id) if live else RunDetailScreen(event.run_id))

    @on(DuplicateRequested)
    def _duplicate(self, event: DuplicateRequested) -> None:
        self.action_new_run(event.run_id)

    @on(CompareRequested)
    def _compare(self, event: CompareRequested) -> None:
        from tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(event.run_ids))

    @on(RunQueued)
    def _queued(self, event: RunQueued) -> None:
        started = f"; started a worker (pid {event.worker_pid})" if event.worker_pid else ""
        self.notify(f"Queued run #{event.run_id}{started}.")
        self._refresh_home()

    @on(RunChanged)
    def _changed(self) -> None:
        self._refresh_home()

    @on(WorkersChanged)
    def _workers_changed(self) -> None:
        for screen in self._live_homes():
            screen.poll()  # the worker hint on the status line

    def _refresh_home(self) -> None:
        for screen in self._live_homes():
            screen.reload(keep_loaded=True)

    def _live_homes(self) -> list[HomeScreen]:
        # A job's message can land while _shutdown prunes the screens: none then.
        return [] if self.quitting else [s for s in self.screen_stack if isinstance(s, HomeScreen)]

    @on(Worker.StateChanged)
    def _job_failed(self, event: Worker.StateChanged) -> None:
        """The one place a failed background job is told: every job is the App's (tui.jobs)."""
        if event.state is not WorkerState.ERROR or event.worker.error is None:
            return
        text = failure_text(event.worker.error, lambda exc: launcher.save_traceback(exc, "tui"))
        self.notify(text, title="Failed", severity="error", timeout=10)

    # -- run actions (asked from home, live and detail) ----------------------------
    @on(CancelRequested)
    def _cancel_asked(self, event: CancelRequested) -> None:
        self._decide("cancel", event.run_id)

    @on(ResumeRequested)
    def _resume_asked(self, event: ResumeRequested) -> None:
        self._decide("resume", event.run_id)

    @on(DeleteRequested)
    def _delete_asked(self, event: DeleteRequested) -> None:
        self._decide("delete", event.run_id)

    @job("decide")
    def _decide(self, action: str, run_id: int) -> None:
        """Read the run as it is now, then ask a question matching what a yes does,
        or say why it cannot be done without asking at all."""
        store = self.ctx.store
        run = store.get_run(run_id)
        plan: control.Plan
        if action == "cancel":
            plan, go = control.cancel_plan(run), partial(self._cancel, run_id)
        elif action == "resume":
            checkpoint = control.last_checkpoint(run)
            plan = control.resume_plan(run, checkpoint, self.ctx.worker_alive())
            go = partial(self._resume, run_id, checkpoint)
        else:
            plan = control.delete_plan(run, store.run_files(run_id, run.checkpoints.values()))
            go = partial(self._delete_now, run_id)
        self.call_from_thread(self._ask, plan, go)

    def _ask(self, plan: control.Plan, go: Callable[[], object]) -> None:
        from tui.screens.confirm import ConfirmDialog

        if self.quitting:
            return  # asked, then q: no dialog over screens being pruned
        if isinstance(plan, control.Refuse):
            self.notify(plan.reason, severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                go()

        self.push_screen(ConfirmDialog(plan.question, yes=plan.yes), answered)

    @job("cancel")
    def _cancel(self, run_id: int) -> None:
        outcome = self.ctx.store.request_cancel(run_id)
        words = ("cancelled" if outcome == "cancelled"
                 else "asked to stop (the worker stops it shortly)")
        self.call_from_thread(self.notify, f"Run #{run_id} {words}.")
        self.post_message(RunChanged(run_id))

    @job("resume")
    def _resume(self, run_id: int, checkpoint: str | None) -> None:
        """As `cifar-tui resume`: requeue, then start this store's worker if none lives."""
        store = self.ctx.store
        store.requeue_for_resume(run_id, checkpoint)
        started = ""
        if not self.ctx.worker_alive():
            started = f"; started this store's worker (pid {self.ctx.start_worker(store.url)})"
        how = "from its last checkpoint" if checkpoint else "from the start"
        self.call_from_thread(self.notify, f"Run #{run_id} requeued to resume {how}{started}.")
        self.post_message(RunChanged(run_id))
        if started:
            self.post_message(WorkersChanged())

    def _delete_now(self, run_id: int) -> None:
        # Leave the run's own screens first, so none polls a run that is gone.
        while len(self.screen_stack) > 1 and getattr(self.screen, "run_id", None) == run_id:
            self.pop_screen()
        self._delete(run_id)

    @job("delete")
    def _delete(self, run_id: int) -> None:
        """As `cifar-tui rm`: the run and its metrics, then the files this store owns."""
        store = self.ctx.store
        recorded = store.get_run(run_id).checkpoints.values()
        store.delete_run(run_id)  # refuses a run that started running meanwhile
        freed, left = store.remove_run_files(run_id, recorded)
        said = f" and {control.size_text(freed)} of checkpoints and logs" if freed else ""
        if left:
            said += f"; kept {len(left)} file(s) outside this store's folder"
        self.call_from_thread(self.notify, f"Deleted run #{run_id}{said}.")
        self.post_message(RunChanged(run_id))


def make_app(
    db_url: str | None = None,
    *,
    store: RunStore | None = None,
    poll_interval: float | None = 1.0,
    clock: fmt.Clock = fmt.utc_now,
    start_worker: Callable[[str], int] | None = None,
    worker_alive: Callable[[], bool] | None = None,
    live_workers: Callable[[], list[launcher.WorkerInfo]] | None = None,
    stop_worker: Callable[[], bool] | None = None,
) -> CifarTui:
    """Build the app for ``main()`` and the tests alike.

    ``start_worker``, ``worker_alive``, ``live_workers`` and ``stop_worker`` default to
    the real launcher, for this store's own worker (another store's never claims its
    runs); tests pass recorders so no process is spawned. ``poll_interval=None`` turns
    live polling off.
    """
    # The store opens in a thread begun now (tests pass one already open): the first
    # frame is drawn while SQLAlchemy imports; screens' jobs wait for it (ctx.store).
    slot = StoreSlot(store, db_url)
    slot.start()
    ctx = AppContext(
        slot=slot,
        clock=clock,
        poll_interval=poll_interval,
        # The store id is read when first needed, in a job thread, not while building.
        start_worker=start_worker or (
            lambda url: launcher.start_worker(url, slot.get().store_id, "auto")),
        worker_alive=worker_alive or (
            lambda: launcher.any_live_worker(slot.get().store_id) is not None),
        live_workers=live_workers or launcher.all_live_workers,
        stop_worker=stop_worker or (lambda: launcher.stop_store_workers(slot.get().store_id)),
    )
    return CifarTui(ctx)

