"""The run-control keys the live and detail screens share: cancel, resume, delete, log.

Each posts the request the app decides on (tui/control.py asks, or refuses, before
anything happens), so both screens behave alike by construction.
"""

from __future__ import annotations

from textual.screen import Screen

from tui.messages import CancelRequested, DeleteRequested, ResumeRequested
from tui.screens.run_log import RunLogScreen


class RunControlScreen(Screen[None]):
    """A screen about one run (``run_id``) with x, R, del and L."""

    run_id: int

    def action_cancel_run(self) -> None:
        self.post_message(CancelRequested(self.run_id))

    def action_resume_run(self) -> None:
        self.post_message(ResumeRequested(self.run_id))

    def action_delete_run(self) -> None:
        self.post_message(DeleteRequested(self.run_id))

    def action_run_log(self) -> None:
        self.app.push_screen(RunLogScreen(self.run_id))
