"""The worker supervisor: claims queued runs, trains each in a spawned child, records it.

One process serves one or more devices; ``worker.slots`` holds the claim loop of each.

The one engine module that talks to the store. The supervisor itself never
imports torch: only the child's entry function does, so a crash, an OOM or a
kill -9 in training can never take the supervisor (or the run's record) down.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from engine.config import RunConfig
from engine.events import EpochMetrics, RunCancelled, RunFailed, RunFinished
from engine.paths import host_name
from worker.device_status import unserved_runs
from worker.launcher import WorkerLock, make_worker_id
from worker.slots import DeviceBoard, Slot, is_out_of_memory

HEARTBEAT_SECONDS = 1.0
CANCEL_GRACE_SECONDS = 5.0  # cooperative stop, then terminate, then kill
TERMINATE_GRACE_SECONDS = 2.0


def child_main(config_dict: dict[str, Any], events, stop_flag, checkpoint_dir: str,
               resume_from: str | None, owner: str | None = None,
               log_file: str | None = None) -> None:
    """Entry of the spawned training process: the only place the worker touches torch.

    ``events`` is a SimpleQueue: put() writes to the pipe in the calling thread.
    A Queue's feeder thread could sit behind the training loop for seconds,
    and metrics must reach the store within about a second.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when training stops
    _exit_with_parent()
    if log_file:
        _output_to(log_file)
    try:
        from engine.train import train

        train(RunConfig.from_dict(config_dict), events.put, checkpoint_dir=checkpoint_dir,
              should_stop=stop_flag.is_set, resume_from=resume_from, owner=owner)
    except BaseException as exc:  # import errors and the like: train() itself never raises
        events.put(RunFailed(reason=f"{type(exc).__name__}: {exc}",
                             traceback=traceback.format_exc()))
    finally:
        # Every event is already in the pipe; skip the interpreter's slow torch teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _output_to(log_file: str) -> None:
    """Send this process's stdout and stderr (warnings, a crash's last words) to the run's
    own train.log rather than the worker log shared by every run."""
    try:
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return  # the worker log still gets it
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _exit_with_parent() -> None:
    """Stop training if the supervisor dies (kill -9): an orphan must not race a resumed run."""
    parent = os.getppid()
    try:  # Linux: the kernel kills us the moment the supervisor dies
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before prctl took effect
            os._exit(1)
        return
    except (OSError, AttributeError):
        pass  # elsewhere a thread checks every half second

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@dataclass
class WorkerOptions:
    db_url: str
    device: str = "auto"
    exit_when_empty: bool = False
    poll_seconds: float = 1.0
    devices: list[str] | None = None  # several devices (`--devices`); None: [device]
    runs_per_device: int = 1  # slots per device (`--runs-per-device`)
    log_file: str | None = None  # where this process writes, recorded in its locks
    child_target: Callable[..., None] = child_main  # the spawned entry (tests fake an OOM)


class Worker:
    """One worker process: a slot (claim loop) per device and per run sharing a device,
    each training its run in its own child, until stopped (or the queue is empty, if
    asked). It holds one ``WorkerLock`` per device it serves."""

    def __init__(self, options: WorkerOptions, store=None):
        from storage import RunStore

        self.options = options
        self.store = store or RunStore(options.db_url)
        self.host = host_name()
        self.pid = os.getpid()
        self.devices = list(options.devices or [options.device])
        self.worker_id = make_worker_id(self.host, self.pid, self.devices[0])
        self.store_id = self.store.store_id
        self.stopping = False
        self.ctx = mp.get_context("spawn")
        self.board = DeviceBoard()
        self.locks: list[WorkerLock] = []
        from worker.sweeps import Steering

        self.steering = Steering(self.store, self._log)

    # -- lifecycle ---------------------------------------------------------
    def run(self) -> int:
        served = self._acquire_locks()
        if not served:
            print(f"a worker for this store on {', '.join(self.devices)} is already "
                  f"running; `cifar-tui worker --status` shows it", flush=True)
            return 3
        handlers = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
        per_device = max(1, self.options.runs_per_device)
        label = len(served) * per_device > 1
        slots = [Slot(self, device, k, label) for device in served for k in range(per_device)]
        try:
            sharing = f", {per_device} runs per device" if per_device > 1 else ""
            self._log(f"worker {self.worker_id} started on {self.store.display_url} "
                      f"(devices {', '.join(served)}{sharing})")
            if len(slots) == 1:
                slots[0].serve()  # in this thread, as a one-device worker always did
            else:
                self._serve_in_threads(slots)
            self._log("worker stopped")
            return 0
        finally:
            for lock in self.locks:
                lock.release()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _acquire_locks(self) -> list[str]:
        """The devices this process now serves: each one no other worker holds."""
        served = []
        for device in self.devices:
            lock = WorkerLock(self.store_id, device, self.options.log_file)
            if lock.acquire(self.store.display_url):
                self.locks.append(lock)
                served.append(device)
            elif len(self.devices) > 1:
                self._log(f"{device}: another worker of this store serves it; skipped")
        return served

    def _serve_in_threads(self, slots: list[Slot]) -> None:
        """Slots in threads; this (main) thread keeps the signal handlers responsive."""
        threads = [threading.Thread(target=self._serve_logged, args=(slot,), daemon=True,
                                    name=f"slot-{slot.device}-{slot.index}") for slot in slots]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.2)

    def _serve_logged(self, slot: Slot) -> None:
        try:
            slot.serve()
        except Exception:  # a bug in one slot: said in the log, the others go on
            self._log(f"slot {slot.worker_id} stopped by an error:\n{traceback.format_exc()}")

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.05)

    def _log(self, text: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", flush=True)

    def recover_orphans(self) -> None:
        """Runs whose process is gone (here: its pid; elsewhere: its lease) are interrupted,
        or requeued while they have retries left; see ``RunStore.reap_lost_runs``."""
        from storage.errors import StoreError

        try:
            lost = self.store.reap_lost_runs(self.host)
        except StoreError as exc:  # a busy store: the next pass sweeps again
            self._log(f"could not check for lost runs: {exc}")
            return
        for each in lost:
            self._log(each.message)

    def unserved_words(self, device: str) -> str | None:
        """A line for the log when queued runs ask for a device this process does not
        serve (they wait for a worker there), else None."""
        from storage.errors import StoreError

        try:
            waiting = unserved_runs(self.store, self.devices)
        except StoreError:
            return None
        if not waiting:
            return None
        asked = ", ".join(sorted({d for _, d in waiting}))
        return (f"{len(waiting)} queued run(s) ask for {asked}, which this worker "
                f"({', '.join(self.devices)}) does not serve; they wait for a worker there")


class RunSupervision:
    """Follow one child: relay its events to the store, heartbeat, cancel, detect death."""

    def __init__(self, worker: Slot, run_id: int, child, events, stop_flag):
        # Imported here, not at the top: the spawned child imports this module, and must not
        # pay for the store (SQLAlchemy) it never uses.
        from worker.recorder import StoreRecorder
        from worker.store_retry import RetryingStore

        self.worker, self.run_id = worker, run_id
        # every store call retried a few times: a full disk or a lost server may pass
        self.store = RetryingStore(worker.store, worker._log)
        self.child, self.events, self.stop_flag = child, events, stop_flag
        self.recorder = StoreRecorder(self.store, run_id, announce=worker._log)  # + webhook
        self.last_beat = time.monotonic()
        self.cancel_asked_at: float | None = None
        self.cancel_reason = "cancelled"  # or "interrupted" when the worker itself is stopping
        self.terminated_at: float | None = None
        from worker.sweeps import PruneJudge

        self.prune_judge = PruneJudge(self.store, run_id)

    @property
    def done(self) -> bool:
        return self.recorder.done

    def follow(self) -> None:
        while not self.done:
            event = self.next_event(timeout=0.05)
            if event is not None:
                self.handle(event)
            now = time.monotonic()
            if now - self.recorder.last_flush >= self.recorder.flush_seconds:
                self.recorder.flush()  # steps waiting while the child is quiet
            if now - self.last_beat >= HEARTBEAT_SECONDS:
                self.last_beat = now
                if self.store.heartbeat(self.run_id, self.worker.worker_id):
                    asked = self.store.cancel_requested(self.run_id)
                    self.request_stop("cancelled" if asked else "lost")
            if self.worker.stopping:
                self.request_stop("interrupted")
            if not self.done and event is None and not self.child.is_alive():
                self.drain()
                if not self.done:
                    self.child_died()
            self.escalate(now)
        self.child.join(timeout=10)
        if self.child.is_alive():
            self.child.kill()
        self.events.close()

    def next_event(self, timeout: float):
        """The child's next event, or None; a torn message from a killed child counts as none."""
        if not wait([self.events._reader], timeout):
            return None
        try:
            return self.events.get()
        except (EOFError, OSError, pickle.UnpicklingError, ValueError, AttributeError):
            return None

    def request_stop(self, reason: str) -> None:
        if self.cancel_asked_at is None:
            self.cancel_reason = reason
            self.cancel_asked_at = time.monotonic()
            self.stop_flag.set()

    def escalate(self, now: float) -> None:
        """Cooperative flag first; terminate after a grace period; kill after another."""
        if self.done or self.cancel_asked_at is None:
            return
        if self.terminated_at is None and now - self.cancel_asked_at > CANCEL_GRACE_SECONDS:
            self.child.terminate()
            self.terminated_at = now
        elif self.terminated_at is not None and now - self.terminated_at > TERMINATE_GRACE_SECONDS:
            self.child.kill()
            self.child.join(timeout=5)
            self.drain()
            if not self.done:
                self.finish_stopped()

    def drain(self) -> None:
        while not self.done:
            event = self.next_event(timeout=0.2)
            if event is None:
                return
            self.handle(event)

    def handle(self, event) -> None:
        if isinstance(event, RunCancelled):
            self.finish_stopped()
            return
        if (isinstance(event, RunFailed) and is_out_of_memory(event.reason)
                and self.worker.board.was_shared(self.run_id)):
            self.recorder.flush()
            self.recorder.abandon()  # its end is the requeue, not this failure
            self.worker.requeue_alone(self.run_id, event.reason, event.traceback)
            return
        self.recorder.handle(event)
        if isinstance(event, EpochMetrics) and self.should_prune(event):
            self.worker._log(f"run {self.run_id}: pruned after epoch {event.epoch}")
            self.request_stop("pruned")
        if isinstance(event, RunFinished):
            self.worker._log(f"run {self.run_id}: completed")
        elif isinstance(event, RunFailed):
            self.worker._log(f"run {self.run_id}: failed: {event.reason}")

    def should_prune(self, event: EpochMetrics) -> bool:
        if not self.prune_judge.active or self.cancel_asked_at is not None:
            return False
        try:
            return self.prune_judge.epoch_ended(event)
        except Exception as exc:  # the study is unreachable: train on, unjudged
            self.worker._log(f"run {self.run_id}: could not report to its sweep: {exc}")
            return False

    def finish_stopped(self) -> None:
        if self.cancel_reason == "pruned":
            self.recorder.prune()
            return
        if self.cancel_reason == "interrupted":
            if os.environ.get("SLURM_JOB_ID"):
                # Under Slurm a stopped worker is a preemption, time-out or requeue of
                # its job: the run goes back to the queue without spending a retry.
                self.interrupted(f"its Slurm job {os.environ['SLURM_JOB_ID']} was stopped "
                                 "(preempted, timed out or requeued)", preempted=True)
            else:
                self.interrupted("the worker was stopped")
            return
        if self.cancel_reason == "lost":  # another process ended or took the run: not ours
            self.recorder.abandon()
            self.worker._log(f"run {self.run_id}: no longer this worker's; stopped it")
            return
        self.recorder.handle(RunCancelled(step=0, epoch=0))
        self.worker._log(f"run {self.run_id}: {self.cancel_reason}")

    def interrupted(self, what: str, preempted: bool = False) -> None:
        """Record the run as interrupted (or requeued, with retries left) and say which."""
        outcome = self.recorder.interrupt(what, preempted=preempted)
        self.worker._log(outcome.message if outcome else f"run {self.run_id}: {what}")

    def child_died(self) -> None:
        if self.cancel_asked_at is not None:
            self.finish_stopped()
            return
        code = self.child.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = f"the training process was killed by {name}"
            if name == "SIGKILL":
                reason += " (out of host memory, or killed by hand)"
            self.interrupted(reason)  # not the run's fault: it may go on from its checkpoint
            return
        reason = f"the training process exited unexpectedly with code {code}"
        self.recorder.handle(RunFailed(reason=reason,
                                       traceback=f"{reason}; see the worker log for its output"))
        self.worker._log(f"run {self.run_id}: failed: {reason}")
