"""One foreground training run: drives the engine, shows progress, records to the store."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cli.common import CliError
from engine import formatting as fmt
from engine.config import RunConfig
from engine.events import (
    EpochMetrics,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepMetrics,
    TrainingEvent,
)
from engine.paths import unrecorded_checkpoint_dir

if TYPE_CHECKING:
    from collections.abc import Callable

    from storage.records import Interruption
    from worker.recorder import LeaseRenewer, StoreRecorder
    from worker.system_sampler import SystemSampler


@dataclass
class TrainOutcome:
    config: RunConfig
    run_id: int | None
    final: TrainingEvent
    started: RunStarted | None
    epochs: list[EpochMetrics] = field(default_factory=list)
    # Set when the run stopped without ending (SIGTERM, a closed terminal): what became of it.
    interruption: Interruption | None = None

    @property
    def succeeded(self) -> bool:
        return isinstance(self.final, RunFinished)

    def to_json(self) -> dict[str, Any]:
        status = self.interruption.status if self.interruption else _status(self.final)
        result: dict[str, Any] = {"run_id": self.run_id, "status": status,
                                  "config": self.config.to_dict()}
        if self.started is not None:
            result["device"] = self.started.device
            result["num_params"] = self.started.num_params
            result["dataset_note"] = self.started.dataset_note
        result["epochs"] = [asdict(e) for e in self.epochs]
        if isinstance(self.final, RunFinished):
            f = self.final
            result["results"] = {
                "val_acc": f.final_val_acc, "best_val_acc": f.best_val_acc, "test_acc": f.test_acc,
                "test_loss": f.test_loss, "train_images_per_s": f.images_per_s,
                "train_seconds": f.train_seconds, "compile_seconds": f.compile_seconds,
                "per_class_acc": dict(zip(f.class_names, f.per_class_acc or [], strict=False)),
                "confusion": f.confusion, "checkpoint_best": f.checkpoint_best,
                "checkpoint_last": f.checkpoint_last,
            }
        elif isinstance(self.final, RunFailed):
            result["error"] = self.final.reason
        if self.interruption:
            result["error"] = self.interruption.reason
        return result

    def print_summary(self, out: Console | None = None, err: TextIO | None = None) -> None:
        """The outcome on the terminal, or (given ``out`` and ``err``) into the run's log."""
        out = out or Console()
        err = err or sys.stderr
        f = self.final
        label = f"run {self.run_id}" if self.run_id is not None else "run"
        if isinstance(f, RunFailed):
            print(f"cifar-tui: error: {label} failed: {f.reason}", file=err)
            return
        if self.interruption is not None:  # one line on stderr: what happened, what comes next
            then = ("; `cifar-tui worker --detach` trains it if no worker is running"
                    if self.interruption.status == "queued" else "")
            print(f"cifar-tui: {self.interruption.message}{then}", file=err)
            return
        if isinstance(f, RunCancelled):
            out.print(f"{label} cancelled at step {f.step}")
            return
        assert isinstance(f, RunFinished)
        pct = partial(fmt.pct, digits=2)
        out.print(f"[bold green]{label} completed[/] in {f.train_seconds:.1f}s of training "
                  f"({f.images_per_s:.0f} images/s)", highlight=False)
        out.print(f"  val acc {pct(f.final_val_acc)} (best {pct(f.best_val_acc)})   "
                  f"test acc {pct(f.test_acc)}"
                  + ("" if f.test_loss is None else f"   test loss {f.test_loss:.4f}"),
                  highlight=False)
        if self.started is not None and self.started.dataset_note:
            out.print(f"  note: {self.started.dataset_note}", highlight=False)
        if f.checkpoint_best:
            out.print(f"  best checkpoint: {f.checkpoint_best}", highlight=False)


def _warn(text: str) -> None:
    print(f"cifar-tui: {text}", file=sys.stderr)


def _open_log(recorder: StoreRecorder | None) -> TextIO | None:
    """The recorded run's train.log, line-buffered so the TUI sees each line as it comes;
    None for an unrecorded run, or when the folder cannot be written."""
    if recorder is None:
        return None
    path = recorder.store.run_dir(recorder.run_id) / "train.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a", buffering=1, encoding="utf-8")  # closed by run()
    except OSError:
        return None


def _status(final: TrainingEvent) -> str:
    return {RunFinished: "completed", RunFailed: "failed",
            RunCancelled: "cancelled"}.get(type(final), "unknown")


class TrainSession:
    """Run the engine in this process; record each event in the store as it comes."""

    def __init__(self, config: RunConfig, db_url: str | None = None,
                 checkpoint_dir: str | None = None, show_progress: bool = True,
                 use_store: bool = True, retries: int = 0):
        self.config = config
        self.retries = retries  # automatic requeues for the worker if this run is killed
        self.db_url = db_url
        self.use_store = use_store
        self.checkpoint_dir = checkpoint_dir
        self.show_progress = show_progress
        self.started: RunStarted | None = None
        # "interrupt" (ctrl+c), "hangup" (terminal closed), "terminate" (SIGTERM), or from
        # the lease: "cancel" (`cifar-tui cancel`) or "lost" (the run is no longer ours).
        self.stop_reason: str | None = None
        self.interruption: Interruption | None = None
        self.epochs: list[EpochMetrics] = []
        self.log: TextIO | None = None  # the run's train.log, as a worker-trained run has

    def run(self) -> TrainOutcome:
        try:
            outcome = self._train()
            self._log_outcome(outcome)
            return outcome
        finally:
            if self.log is not None:
                self.log.close()

    def _train(self) -> TrainOutcome:
        from engine.train import train

        recorder = self._open_recorder()
        run_id = recorder.run_id if recorder is not None else None
        self.log = _open_log(recorder)
        ckpt_dir, owner = self._checkpoint_place(recorder)
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), disable=not self.show_progress, transient=False,
        )
        on_event = self._event_handler(recorder, progress)
        previous = self._install_signal_handlers(progress)
        lease = self._keep_lease(recorder)
        sampler = self._sample_machine(recorder)
        try:
            with progress:
                final = train(self.config, on_event, checkpoint_dir=ckpt_dir, owner=owner,
                              should_stop=lambda: self.stop_reason is not None)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if lease is not None:
                lease.stop()
            if sampler is not None:
                sampler.stop()  # before the recorder closes the store it writes to
            if recorder is not None:
                recorder.close()  # a run cut short any other way is kept as interrupted
        return TrainOutcome(self.config, run_id, final, self.started, self.epochs,
                            self.interruption)

    def _keep_lease(self, recorder: StoreRecorder | None) -> LeaseRenewer | None:
        """Heartbeat like a worker, so the run stays ours however slow its steps are."""
        if recorder is None:
            return None
        from worker.recorder import LeaseRenewer

        def on_stop(reason: str) -> None:
            if not recorder.done and self.stop_reason is None:
                self.stop_reason = reason

        return LeaseRenewer(recorder.store, recorder.run_id, recorder.worker_id, on_stop).start()

    def _sample_machine(self, recorder: StoreRecorder | None) -> SystemSampler | None:
        """Store CPU, RAM, disk and GPU samples with the run, as a worker does."""
        if recorder is None:
            return None
        from worker.system_sampler import SystemSampler

        store, run_id = recorder.store, recorder.run_id
        return SystemSampler(store, run_id, store.run_dir(run_id), self._warn).start()

    def _checkpoint_place(self, recorder: StoreRecorder | None) -> tuple[Path, str | None]:
        """--checkpoint-dir, else the run's folder in its store (never a folder two stores
        share); and the owner its checkpoints name."""
        if recorder is None:
            return Path(self.checkpoint_dir or unrecorded_checkpoint_dir()), None
        store, run_id = recorder.store, recorder.run_id
        place = Path(self.checkpoint_dir) if self.checkpoint_dir else store.run_dir(run_id)
        return place, f"{store.store_id}/run-{run_id}"

    def _open_recorder(self) -> StoreRecorder | None:
        """The store's record of this run, or None when the store is off."""
        if not self.use_store:
            return None
        from storage import StoreError
        from worker.recorder import open_foreground_run

        try:
            recorder = open_foreground_run(self.db_url, self.config, max_retries=self.retries)
        except StoreError as exc:
            raise CliError(str(exc)) from None
        recorder.announce = self._warn  # the run's end goes to the webhook, a failure to stderr
        return recorder

    def _warn(self, text: str) -> None:
        _warn(text)
        self._log_line(f"cifar-tui: {text}")

    def _log_line(self, text: str) -> None:
        """One line in the run's log; a full disk or a deleted folder never stops training."""
        if self.log is None:
            return
        try:
            self.log.write(text + "\n")
        except (OSError, ValueError):
            self.log = None

    def _log_outcome(self, outcome: TrainOutcome) -> None:
        """The summary the terminal gets, and a failure's traceback, at the log's end."""
        if self.log is None:
            return
        try:
            outcome.print_summary(Console(file=self.log, width=120, no_color=True,
                                          highlight=False, soft_wrap=True), err=self.log)
            if isinstance(outcome.final, RunFailed) and outcome.final.traceback:
                self.log.write(outcome.final.traceback.rstrip() + "\n")
        except (OSError, ValueError):
            self.log = None

    def _event_handler(self, recorder: StoreRecorder | None,
                       progress: Progress) -> Callable[[TrainingEvent], None]:
        """Record each event, keep the started event and epochs, and show progress."""
        task = progress.add_task("training", total=None, info="")

        def on_event(event: TrainingEvent) -> None:
            if recorder is not None:
                if isinstance(event, RunCancelled):
                    self._record_stop(recorder, event)
                else:
                    recorder.handle(event)
            if isinstance(event, RunStarted):
                self.started = event
                self._log_line(f"{self.config.model} on {event.device} ({event.host}): "
                               f"{event.total_steps} steps, {event.num_params:,} parameters")
                progress.update(task, total=event.total_steps,
                                completed=event.start_epoch * event.steps_per_epoch,
                                description=f"{self.config.model} on {event.device}")
            elif isinstance(event, StepMetrics):
                progress.update(task, completed=event.step,
                                info=f"epoch {event.epoch} loss {event.loss:.3f} "
                                     f"{event.images_per_s:.0f} img/s")
            elif isinstance(event, EpochMetrics):
                self.epochs.append(event)
                val = "" if event.val_acc is None else f" val acc {fmt.pct(event.val_acc, 2)}"
                line = (f"epoch {event.epoch}/{self.config.epochs}: train loss "
                        f"{event.train_loss:.4f} acc {fmt.pct(event.train_acc, 2)}{val} "
                        f"lr {event.lr:.2e} {event.seconds:.1f}s {event.images_per_s:.0f} img/s")
                if self.show_progress:
                    progress.console.print(line, highlight=False)
                self._log_line(line)

        return on_event

    def _record_stop(self, recorder: StoreRecorder, event: RunCancelled) -> None:
        """The loop stopped early: a kill or a closed terminal interrupts the run (requeued
        while it has retries); ctrl+c or `cancel` cancels it; a lost run is left alone."""
        what = {"hangup": "the terminal closed during training",
                "terminate": "`cifar-tui train` was stopped by SIGTERM"}.get(self.stop_reason or "")
        if what is not None:
            self.interruption = recorder.interrupt(what)
        elif self.stop_reason == "lost":
            recorder.abandon()
        else:
            recorder.handle(event)

    def _install_signal_handlers(self, progress: Progress) -> dict[signal.Signals, Any]:
        """Handle SIGHUP, SIGINT and SIGTERM for the run; returns the handlers they replaced."""

        # Signals only set a flag; the loop stops at its next read-out. Raising from a
        # handler could land inside a store write and leave a half-finished transaction.
        def on_hang_up(_signum: int, _frame: object) -> None:
            self.stop_reason = "hangup"
            devnull = os.open(os.devnull, os.O_WRONLY)  # the terminal is gone: writes would fail
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)

        def on_interrupt(_signum: int, _frame: object) -> None:
            if self.stop_reason is not None:
                raise KeyboardInterrupt  # a second ctrl+c: stop now
            self.stop_reason = "interrupt"
            progress.console.print("stopping at the next read-out (ctrl+c again to abort)",
                                   highlight=False)

        def on_terminate(_signum: int, _frame: object) -> None:
            if self.stop_reason is None:  # `kill`: stop like a closed terminal, and say so
                self.stop_reason = "terminate"

        handlers = ((signal.SIGHUP, on_hang_up), (signal.SIGINT, on_interrupt),
                    (signal.SIGTERM, on_terminate))
        return {sig: signal.signal(sig, handler) for sig, handler in handlers}


