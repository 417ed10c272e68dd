"""What a run action will do, decided before asking.

Each ``*_plan`` reads a run as the store has it now and returns either the question
to ask (whose words match what a yes will do) or the reason it cannot be done, so a
refusal is a notification, never a dialog that asks first and refuses after.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.paths import host_name
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


@dataclass(frozen=True)
class ResumeSource:
    """Where a resume starts from, as `cifar-tui resume` and the TUI both decide it."""

    checkpoint: str | None  # None: from the start
    held_by: str | None = None  # the host whose disk holds it, when this host cannot see it


def resume_source(run: RunDetail, here: str | None = None) -> ResumeSource:
    """The run's last checkpoint when its file is here. One this host cannot see is kept
    when another host wrote it (no shared artifact root: only that host's workers claim
    the resume); one deleted since means starting over rather than failing in the worker."""
    path = run.checkpoints.get("last")
    if not path:
        return ResumeSource(None)
    if Path(path).exists():
        return ResumeSource(path)
    writer = next((a.host for a in reversed(run.attempts) if a.host), run.host)
    if writer and writer != (here or host_name()):
        return ResumeSource(path, writer)
    return ResumeSource(None)


def last_checkpoint(run: RunDetail) -> str | None:
    return resume_source(run).checkpoint


def pinned_note(host: str) -> str:
    """Why a resume waits for one host, in the CLI's and the TUI's words."""
    return (f"its checkpoint is on {host}'s disk (no shared artifact root): a worker on "
            f"{host} will resume it")


def checkpoint_epoch(run: RunDetail) -> int | None:
    """last.pt is written every epoch, so it holds the last epoch recorded."""
    return max((r.epoch for r in run.epoch_rows), default=run.current_epoch)


def resume_plan(run: RunDetail, checkpoint: str | None, worker_alive: bool) -> Plan:
    if run.status not in RESUMABLE:
        return Refuse(f"run #{run.id} is {run.status}; only an interrupted, failed or "
                      "cancelled run can be resumed")
    held_by = None
    if checkpoint:
        epoch = checkpoint_epoch(run)
        how = "from its last checkpoint" + (f" (epoch {epoch})" if epoch else "")
        held_by = resume_source(run).held_by
    else:
        how = "from the start (no checkpoint)"
    note = pinned_note(held_by) if held_by else ""
    pinned = f" {note[:1].upper()}{note[1:]}." if note else ""
    worker = "" if worker_alive else " No worker is running: this starts this store's worker."
    return Ask(f"Resume run #{run.id} {how}?{pinned}{worker}", "Resume")


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
