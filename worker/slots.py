"""Slots: one claim loop per device (N per device with `--runs-per-device N`), all in one
worker process, and the board they share to decide when a device may take another run.

A slot claims a run, trains it in its own spawned child (``Slot.run_one``) and follows it
with ``RunSupervision`` exactly as a one-device worker does. The board keeps which runs
train where, so a slot whose device is busy claims only when the device has room, and a
run that ran out of memory while sharing a device trains alone on its next try.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker.device_list import nvml_index
from worker.launcher import make_worker_id
from worker.system_sampler import SystemSampler

if TYPE_CHECKING:
    from storage.records import ClaimedRun
    from worker.supervisor import Worker

STORE_RETRY_SECONDS = 10.0  # a slot that cannot claim (full disk, no server) tries again
SHARE_SETTLE_S = 20.0  # a run's memory grows over its first seconds: judge it after that
SHARE_MARGIN = 1.2  # room for another run: 1.2 x what each run on the device uses now
OOM_WORDS = ("CUDA out of memory", "CPU out of memory")  # engine.failures' reasons


def is_out_of_memory(reason: str) -> bool:
    return reason.startswith(OOM_WORDS)


def gpu_memory_mb(device: str) -> tuple[float, float] | None:
    """(used, total) MiB of ``cuda:N`` from NVML, or None when NVML cannot tell."""
    from worker.machine import read_gpus

    index = nvml_index(device)
    gpus, _ = read_gpus()
    gpu = next((g for g in gpus if g.index == index), None)
    if gpu is None or gpu.mem_used_mb is None or gpu.mem_total_mb is None:
        return None
    return gpu.mem_used_mb, gpu.mem_total_mb


class DeviceBoard:
    """What each device of this process trains now; thread-safe. A run requeued after
    running out of memory while sharing is *alone*: until it is claimed, a busy device's
    slots claim nothing, and while it trains its device takes no other run."""

    def __init__(self, memory: Callable[[str], tuple[float, float] | None] = gpu_memory_mb,
                 clock: Callable[[], float] = time.monotonic):
        self.memory, self.clock = memory, clock
        self.lock = threading.Lock()
        self.running: dict[str, dict[int, float]] = {}  # device -> run id -> claimed at
        self.shared: set[int] = set()  # runs that had company on their device
        self.needs_alone: set[int] = set()  # requeued to train alone, not yet ended
        self.waiting_alone: set[int] = set()  # of those, the ones still queued
        self.alone: dict[str, int] = {}  # device -> the run training alone there
        self.claim_locks: dict[str, threading.Lock] = {}

    def claim_lock(self, device: str) -> threading.Lock:
        """Held around "may I claim?" and the claim, so two slots never both see room."""
        with self.lock:
            return self.claim_locks.setdefault(device, threading.Lock())

    def reason_to_wait(self, device: str) -> str | None:
        """Why a slot on ``device`` must not claim now, or None when it may."""
        with self.lock:
            others = dict(self.running.get(device, {}))
            if not others:
                return None
            if device in self.alone:
                return (f"run {self.alone[device]} trains alone on {device} (it ran out of "
                        "memory sharing it)")
            if self.waiting_alone:
                return "a run that ran out of memory while sharing waits to train alone"
        if not device.startswith("cuda"):
            return None  # CPU "devices" share the host's RAM: there is no per-device figure
        if self.clock() - max(others.values()) < SHARE_SETTLE_S:
            return f"waiting for the newest run on {device} to reach its memory use"
        reading = self.memory(device)
        if reading is None:
            return None  # NVML cannot tell (not NVIDIA): share unchecked, OOM retries alone
        used, total = reading
        each = used / len(others)
        if total - used < each * SHARE_MARGIN:
            return (f"{device} has {total - used:.0f} MiB free; each of its runs uses about "
                    f"{each:.0f} MiB")
        return None

    def claimed(self, device: str, run_id: int) -> None:
        with self.lock:
            others = self.running.setdefault(device, {})
            if others:
                self.shared.update([run_id, *others])
            others[run_id] = self.clock()
            if run_id in self.needs_alone:
                self.alone[device] = run_id
                self.waiting_alone.discard(run_id)

    def released(self, device: str, run_id: int) -> None:
        with self.lock:
            self.running.get(device, {}).pop(run_id, None)
            self.shared.discard(run_id)
            if self.alone.get(device) == run_id:
                del self.alone[device]
                self.needs_alone.discard(run_id)

    def was_shared(self, run_id: int) -> bool:
        with self.lock:
            return run_id in self.shared

    def train_alone(self, run_id: int) -> None:
        """Before the run is requeued: its next claim here makes it train alone."""
        with self.lock:
            self.needs_alone.add(run_id)
            self.waiting_alone.add(run_id)

    def forget_claimed_elsewhere(self, is_queued: Callable[[int], bool]) -> None:
        """Stop holding devices back for a run another process claimed (or that ended)."""
        with self.lock:
            waiting = set(self.waiting_alone)
        gone = {run_id for run_id in waiting if not is_queued(run_id)}
        with self.lock:
            for run_id in gone:
                if run_id in self.waiting_alone and not any(
                        run_id in runs for runs in self.running.values()):
                    self.waiting_alone.discard(run_id)
                    self.needs_alone.discard(run_id)


class Slot:
    """One claim loop on one device of a worker process: claims, trains, records."""

    def __init__(self, worker: Worker, device: str, index: int, label: bool):
        self.worker, self.device, self.index = worker, device, index
        self.store = worker.store
        self.host = worker.host
        self.board: DeviceBoard = worker.board
        self.worker_id = make_worker_id(self.host, worker.pid, device, index)
        self.prefix = f"[{device}{f'#{index}' if index else ''}] " if label else ""
        self._said: str | None = None  # the last "waiting because" line, said once

    @property
    def stopping(self) -> bool:
        return self.worker.stopping

    def _sleep(self, seconds: float) -> None:
        self.worker._sleep(seconds)

    def _log(self, text: str) -> None:
        self.worker._log(self.prefix + text)

    def _say_once(self, text: str | None) -> None:
        if text and text != self._said:
            self._log(text)
        self._said = text

    def serve(self) -> None:
        """Claim and train until the worker stops (or the queue is empty, if asked)."""
        from storage.errors import StoreError

        options = self.worker.options
        while not self.stopping:
            self.worker.recover_orphans()
            self.worker.steering.steer()
            try:
                claimed = self.claim()
            except StoreError as exc:  # a full disk, a lost server: the worker lives on
                self._log(f"could not claim a run: {exc}")
                self._sleep(STORE_RETRY_SECONDS)
                continue
            if claimed == "wait":
                self._sleep(options.poll_seconds)
                continue
            if claimed is None:
                if options.exit_when_empty:
                    break
                self._say_once(self.worker.unserved_words(self.device))
                self._sleep(options.poll_seconds)
                continue
            self._said = None
            try:
                self.run_one(claimed)
            finally:
                self.board.released(self.device, claimed.run_id)
            self.worker.steering.steer(force=True)  # tell its trial now, ask the next

    def claim(self) -> ClaimedRun | str | None:
        """The run this slot claimed, None when none is queued for it, "wait" when its
        device has no room now (said once in the log)."""
        if self.board.waiting_alone:
            self.board.forget_claimed_elsewhere(self._still_queued)
        with self.board.claim_lock(self.device):
            wait = self.board.reason_to_wait(self.device)
            if wait is not None:
                self._say_once(f"not claiming: {wait}")
                return "wait"
            claimed = self.store.claim_next_run(self.worker_id, self.device, self.host)
            if claimed is not None:
                self.board.claimed(self.device, claimed.run_id)
        return claimed

    def _still_queued(self, run_id: int) -> bool:
        from storage.errors import StoreError

        try:
            return self.store.get_run(run_id).status == "queued"
        except StoreError:
            return True  # cannot tell: keep waiting for it

    def child_config(self, claimed: ClaimedRun) -> dict[str, Any]:
        config = dict(claimed.config)
        if self.device != "auto":  # the worker's device is where it trains
            # cpu:N is a slot name for tests and sharing; the config knows only "cpu"
            config["device"] = "cpu" if self.device.startswith("cpu") else self.device
        return config

    def run_one(self, claimed: ClaimedRun) -> None:
        run_id = claimed.run_id
        run_dir = self.store.run_dir(run_id)  # this store's files only: never another's
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._fail_unstarted(claimed, run_dir, exc)
            return
        ctx = self.worker.ctx
        owner = f"{self.worker.store_id}/run-{run_id}"
        log_file = run_dir / "train.log"
        events = ctx.SimpleQueue()
        stop_flag = ctx.Event()
        child = ctx.Process(
            target=self.worker.options.child_target, name=f"cifar-tui-run-{run_id}",
            daemon=True, args=(self.child_config(claimed), events, stop_flag, str(run_dir),
                               claimed.resume_checkpoint, owner, str(log_file)),
        )
        child.start()
        self._log(f"run {run_id}: training in pid {child.pid} (output in {log_file})")
        from worker.store_retry import follow_surviving_the_store
        from worker.supervisor import RunSupervision

        # CPU, RAM, the run folder's disk and each GPU, stored with the run while it trains.
        sampler = SystemSampler(self.store, run_id, run_dir, self._log).start()
        try:
            follow_surviving_the_store(RunSupervision(self, run_id, child, events, stop_flag))
        finally:
            sampler.stop()

    def _fail_unstarted(self, claimed: ClaimedRun, run_dir: Path, exc: OSError) -> None:
        reason = (f"cannot create the run folder {run_dir}: {exc.strerror or exc}; "
                  "fix its permissions or `cifar-tui store --artifact-root PATH`")
        self.store.fail_run(claimed.run_id, reason)
        self._log(f"run {claimed.run_id}: failed: {reason}")
        from worker.notify import announce_end

        announce_end(claimed.run_id, claimed.name, "failed", None, reason, self._log)

    def requeue_alone(self, run_id: int, reason: str, traceback: str) -> None:
        """A run that ran out of memory while sharing its device: recorded as failed with
        why (its attempt keeps it), then queued again to resume alone; not the run's fault,
        so it costs none of its retries."""
        self.board.train_alone(run_id)  # before the requeue: no slot may share with it
        why = f"{reason} (while sharing {self.device}); requeued to train alone"
        self.store.fail_run(run_id, why, traceback)
        checkpoint = self.store.get_run(run_id).checkpoints.get("last")
        if checkpoint and not Path(checkpoint).exists():
            checkpoint = None
        self.store.requeue_for_resume(run_id, checkpoint)
        self._log(f"run {run_id}: {why}")
