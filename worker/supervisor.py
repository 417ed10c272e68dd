"""The worker supervisor: claims queued runs, trains each in a spawned child, records it.

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
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from engine.config import RunConfig
from engine.events import RunCancelled, RunFailed, RunFinished
from engine.paths import host_name
from worker.launcher import WorkerLock
from worker.system_sampler import SystemSampler

HEARTBEAT_SECONDS = 1.0
CANCEL_GRACE_SECONDS = 5.0  # cooperative stop, then terminate, then kill
TERMINATE_GRACE_SECONDS = 2.0
STORE_RETRY_SECONDS = 10.0  # a worker that cannot claim (full disk, no server) tries again


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


class Worker:
    """Drains the queue one run at a time until stopped (or empty, if asked)."""

    def __init__(self, options: WorkerOptions, store=None):
        from storage import RunStore

        self.options = options
        self.store = store or RunStore(options.db_url)
        self.host = host_name()
        self.worker_id = f"{self.host}:{os.getpid()}:{options.device}"
        self.store_id = self.store.store_id
        self.lock = WorkerLock(self.store_id, options.device)  # one worker per store and device
        self.stopping = False
        self.ctx = mp.get_context("spawn")

    # -- lifecycle ---------------------------------------------------------
    def run(self) -> int:
        if not self.lock.acquire(self.store.display_url):
            print(f"a worker for this store on device {self.options.device} is already "
                  f"running; `cifar-tui worker --status` shows it", flush=True)
            return 3
        from storage.errors import StoreError

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            self._log(f"worker {self.worker_id} started on {self.store.display_url}")
            while not self.stopping:
                self.recover_orphans()  # one read while nothing is lost
                try:
                    claimed = self.store.claim_next_run(self.worker_id, self.options.device,
                                                        self.host)
                except StoreError as exc:  # a full disk, a lost server: the worker lives on
                    self._log(f"could not claim a run: {exc}")
                    self._sleep(STORE_RETRY_SECONDS)
                    continue
                if claimed is None:
                    if self.options.exit_when_empty:
                        break
                    self._sleep(self.options.poll_seconds)
                    continue
                self.run_one(claimed)
            self._log("worker stopped")
            return 0
        finally:
            self.lock.release()

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

    # -- one run -----------------------------------------------------------
    def run_one(self, claimed) -> None:
        run_id = claimed.run_id
        config = dict(claimed.config)
        if self.options.device != "auto":
            config["device"] = self.options.device  # the worker's device is where it trains
        run_dir = self.store.run_dir(run_id)  # this store's files only: never another's
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = (f"cannot create the run folder {run_dir}: {exc.strerror or exc}; "
                      "fix its permissions or `cifar-tui store --artifact-root PATH`")
            self.store.fail_run(run_id, reason)
            self._log(f"run {run_id}: failed: {reason}")
            from worker.notify import announce_end

            announce_end(run_id, claimed.name, "failed", None, reason, self._log)
            return
        owner = f"{self.store_id}/run-{run_id}"
        log_file = run_dir / "train.log"
        events = self.ctx.SimpleQueue()
        stop_flag = self.ctx.Event()
        child = self.ctx.Process(
            target=child_main, name=f"cifar-tui-run-{run_id}", daemon=True,
            args=(config, events, stop_flag, str(run_dir), claimed.resume_checkpoint, owner,
                  str(log_file)),
        )
        child.start()
        self._log(f"run {run_id}: training in pid {child.pid} (output in {log_file})")
        from worker.store_retry import follow_surviving_the_store

        # CPU, RAM, the run folder's disk and each GPU, stored with the run while it trains.
        sampler = SystemSampler(self.store, run_id, run_dir, self._log).start()
        try:
            follow_surviving_the_store(RunSupervision(self, run_id, child, events, stop_flag))
        finally:
            sampler.stop()


class RunSupervision:
    """Follow one child: relay its events to the store, heartbeat, cancel, detect death."""

    def __init__(self, worker: Worker, run_id: int, child, events, stop_flag):
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
        self.recorder.handle(event)
        if isinstance(event, RunFinished):
            self.worker._log(f"run {self.run_id}: completed")
        elif isinstance(event, RunFailed):
            self.worker._log(f"run {self.run_id}: failed: {event.reason}")

    def finish_stopped(self) -> None:
        if self.cancel_reason == "interrupted":
            self.interrupted("the worker was stopped")
            return
        if self.cancel_reason == "lost":  # another process ended or took the run: not ours
            self.recorder.abandon()
            self.worker._log(f"run {self.run_id}: no longer this worker's; stopped it")
            return
        self.recorder.handle(RunCancelled(step=0, epoch=0))
        self.worker._log(f"run {self.run_id}: {self.cancel_reason}")

    def interrupted(self, what: str) -> None:
        """Record the run as interrupted (or requeued, with retries left) and say which."""
        outcome = self.recorder.interrupt(what)
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
