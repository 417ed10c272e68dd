"""One job of `cifar-tui slurm`: a cifar-tui worker draining the store's queue on a node.

submitit pickles a ``SlurmWorkerJob`` into its folder and runs it on the node. The job
starts the ordinary worker as a child process (``cifar-tui worker ... --exit-when-empty``)
and waits for it, so everything the worker does (claims, leases, retries) is unchanged.

Preemption and time-out: Slurm sends SIGUSR2 (submitit asks for it 90 s ahead) and
submitit calls ``checkpoint``. It SIGTERMs the worker, which stops its run cooperatively:
the run is requeued in the store with its last checkpoint, without spending a retry (the
worker sees SLURM_JOB_ID: a preemption is not the run's failure). Then the fresh job it
returns is requeued in Slurm (``scontrol requeue``) and, restarted, drains the queue again,
resuming that run from its checkpoint. A hand ``scontrol requeue`` or a SIGTERM
preemption reaches the worker directly, to the same end.

No torch here and no SQL: the job only starts and stops a process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import submitit

# The worker stops a run within about 8 s (cooperative flag, then terminate, then kill:
# worker/supervisor.py); Slurm's warning comes 90 s before the kill.
WORKER_STOP_SECONDS = 60.0
SETTINGS_FILE = "settings.json"  # engine.settings: the webhook and bell travel with the job


@dataclass(frozen=True)
class WorkerJobSpec:
    """What one job runs; plain data, so it pickles into submitit's folder."""

    worker_args: tuple[str, ...]  # after `cifar-tui worker`, e.g. ("--devices", "all", ...)
    db_url: str  # passed in the environment, never argv: `ps` would show a password
    job_homes: str  # each job's own app home goes under this folder
    user_home: str  # the submitter's app home, whose settings the jobs copy
    repo_root: str = str(Path(__file__).resolve().parent.parent)
    python: str = sys.executable
    extra_env: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        return [self.python, "-m", "cifar_tui", "worker", *self.worker_args]


def current_job_id() -> str:
    """This job's id: Slurm's, or the local executor's; 'unknown' outside submitit."""
    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:
        return os.environ.get("SLURM_JOB_ID", "unknown")


def job_home(spec: WorkerJobSpec, job_id: str) -> Path:
    """The worker's app home in this job. A worker's lock is named after its store and
    device, so two jobs on one node sharing a home would refuse each other's worker."""
    home = Path(spec.job_homes) / f"job-{job_id}"
    home.mkdir(parents=True, exist_ok=True)
    settings = Path(spec.user_home) / SETTINGS_FILE
    if settings.is_file() and not (home / SETTINGS_FILE).exists():
        shutil.copy2(settings, home / SETTINGS_FILE)
    return home


def _ignore_slurm_signals() -> None:
    """In the worker child before exec: SIGUSR2 is submitit's to act on (Slurm signals
    every process of the step), and SIGTERM is left to the worker's own handler. The
    training children inherit both ignored, so they stop by the worker's flag with their
    checkpoint rather than die mid-step; SIGKILL remains the worker's last resort."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class SlurmWorkerJob(submitit.helpers.Checkpointable):
    """The callable submitit runs on the node: the worker's exit code, or an error."""

    def __init__(self, spec: WorkerJobSpec):
        self.spec = spec
        self._worker: subprocess.Popen[bytes] | None = None
        self._reaper: threading.Thread | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"spec": self.spec}  # a process and a thread never travel

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["spec"])  # type: ignore[misc, arg-type]

    def __call__(self) -> int:
        job_id = current_job_id()
        env = {**os.environ, **self.spec.extra_env, "PYTHONUNBUFFERED": "1",
               "CIFAR_TUI_DB": self.spec.db_url,
               "CIFAR_TUI_HOME": str(job_home(self.spec, job_id))}
        print(f"slurm job {job_id}: {' '.join(self.spec.command())}", flush=True)
        self._worker = subprocess.Popen(self.spec.command(), cwd=self.spec.repo_root, env=env,
                                        stdin=subprocess.DEVNULL,
                                        preexec_fn=_ignore_slurm_signals)
        # A thread waits for the worker so that the signal handler (checkpoint, run in
        # this main thread) never re-enters a Popen.wait that this thread is inside.
        self._reaper = threading.Thread(target=self._worker.wait, name="worker-reaper",
                                        daemon=True)
        self._reaper.start()
        while self._reaper.is_alive():
            self._reaper.join(timeout=1.0)
        code = self._worker.returncode
        print(f"slurm job {job_id}: worker exited with code {code}", flush=True)
        if code != 0:
            raise RuntimeError(f"the cifar-tui worker exited with code {code}; "
                               "see this job's output")
        return code

    def stop_worker(self) -> int | None:
        """SIGTERM the worker and wait for it: its run is then interrupted with its last
        checkpoint and requeued in the store (a preemption spends no retry). Its exit code, or
        None when it was not running or did not stop in time."""
        if self._worker is None or self._reaper is None:
            return None
        if self._worker.returncode is None:
            try:
                self._worker.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        self._reaper.join(timeout=WORKER_STOP_SECONDS)
        return self._worker.returncode

    def checkpoint(self, *args: object, **kwargs: object) -> submitit.helpers.DelayedSubmission:
        """submitit calls this on preemption or time-out, then requeues the job it returns:
        the same worker, which resumes whatever run this one was training."""
        code = self.stop_worker()
        print(f"slurm job {current_job_id()}: preempted or out of time; worker stopped "
              f"(exit code {code}); requeueing this job", flush=True)
        return submitit.helpers.DelayedSubmission(SlurmWorkerJob(self.spec))
