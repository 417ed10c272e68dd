"""What a run action will do, decided before asking.

Each ``*_plan`` reads a run as the store has it now and returns either the question
to ask (whose words match what a yes will do) or the reason it cannot be done, so a
refusal is a notification, never a dialog that asks first and refuses after.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage.records import RunDetail, RunSummary

if TYPE_CHECKING:  # types only: storage.identity imports SQLAlchemy
    from storage.identity import RunFiles

RESUMABLE = ("interrupted", "failed", "cancelled")


@dataclass(frozen=True)
class Ask:
    question: str
    yes: str  # the dialog's yes button


@dataclass(frozen=True)
class Refuse:
    reason: str


Plan = Ask | Refuse


def size_text(size: int) -> str:
    """As `cifar-tui rm` says it: 12.3 MB, 2.0 kB."""
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def cancel_plan(run: RunSummary) -> Plan:
    if run.status == "running":
        return Ask(f"Cancel run #{run.id}? It stops after its current step.", "Cancel run")
    if run.status == "queued":
        return Ask(f"Cancel run #{run.id}? It has not started; it leaves the queue.",
                   "Cancel run")
    if run.status == "interrupted":
        return Ask(f"Cancel run #{run.id}? It is interrupted; it will not be resumed.",
                   "Cancel run")
    return Refuse(f"run #{run.id} is {run.status}; nothing to cancel")


def last_checkpoint(run: RunDetail) -> str | None:
    """The run's last checkpoint when its file is still there (as `cifar-tui resume`):
    a deleted one means starting over rather than failing in the worker."""
    path = run.checkpoints.get("last")
    return path if path and Path(path).exists() else None


def checkpoint_epoch(run: RunDetail) -> int | None:
    """last.pt is written every epoch, so it holds the last epoch recorded."""
    return max((r.epoch for r in run.epoch_rows), default=run.current_epoch)


def resume_plan(run: RunDetail, checkpoint: str | None, worker_alive: bool) -> Plan:
    if run.status not in RESUMABLE:
        return Refuse(f"run #{run.id} is {run.status}; only an interrupted, failed or "
                      "cancelled run can be resumed")
    if checkpoint:
        epoch = checkpoint_epoch(run)
        how = "from its last checkpoint" + (f" (epoch {epoch})" if epoch else "")
    else:
        how = "from the start (no checkpoint)"
    worker = "" if worker_alive else " No worker is running: this starts this store's worker."
    return Ask(f"Resume run #{run.id} {how}?{worker}", "Resume")


def delete_plan(run: RunSummary, files: RunFiles) -> Plan:
    if run.status == "running":
        return Refuse(f"run #{run.id} is running; cancel it first (x), then delete it")
    what = (f"and its {size_text(files.size)} of checkpoints and logs" if files.size
            else "and all its metrics")
    kept = (f" {len(files.left)} file(s) outside this store's folder are kept." if files.left
            else "")
    return Ask(f"Delete run #{run.id} ({run.name}) {what}? This cannot be undone.{kept}",
               "Delete")


def worker_hint(queued: int, alive: bool) -> str:
    """The home status line's word on the worker: queued runs with none to train them
    get the key that fixes it."""
    if alive:
        return "worker alive"
    return f"{queued} queued, no worker: press w" if queued else "no worker"
