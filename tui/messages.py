"""App-wide messages. Screens post these; the App routes them (push a screen, notify)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.message import Message


@dataclass
class RunQueued(Message):
    """A run was created from the form; ``worker_pid`` is set when we started a worker."""

    run_id: int
    worker_pid: int | None = None


@dataclass
class RunChanged(Message):
    """A run's status, notes or tags changed from this UI, so lists should refresh."""

    run_id: int


@dataclass
class OpenRequested(Message):
    """Show one run: live view while it is queued or running, else its detail."""

    run_id: int
    view: Literal["auto", "live", "detail"] = "auto"


@dataclass
class DuplicateRequested(Message):
    """Open the form prefilled from this run's stored config."""

    run_id: int


@dataclass
class CompareRequested(Message):
    run_ids: list[int]


@dataclass
class CancelRequested(Message):
    """Ask (with a confirmation) to cancel a run."""

    run_id: int


@dataclass
class ResumeRequested(Message):
    """Ask (with a confirmation saying from where) to requeue a stopped run."""

    run_id: int


@dataclass
class DeleteRequested(Message):
    """Ask (with a confirmation saying what is freed) to delete a run and its files."""

    run_id: int


@dataclass
class WorkersChanged(Message):
    """This UI started or stopped a worker: the home line's worker hint is stale."""
