"""The run-control keys the live and detail screens share: cancel, resume, delete, log;
and o (write a report), which the detail and compare screens share.

Each posts the request the app decides on (tui/control.py asks, or refuses, before
anything happens), so both screens behave alike by construction.
"""

from __future__ import annotations

from textual.screen import Screen

from tui.context import context_of
from tui.jobs import job
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


def write_report(screen: Screen, refs: list[int] | list[str]) -> None:
    """o on the detail and compare screens: the HTML report (outputs/report.py) on runs
    (ids) or seed groups (``g:N``, each a mean with a band), in the run's folder (one run)
    or the store's reports folder, written in a thread (drawing takes a second or two) and
    told with its full path."""
    screen.notify("Writing the report…", timeout=3)
    _write_report(screen, list(refs))


@job("report")
def _write_report(screen: Screen, refs: list[int] | list[str]) -> None:
    from outputs.report import ReportError, save_report_for  # matplotlib only from here

    try:
        path = save_report_for(context_of(screen).store, refs)
    except ReportError as exc:  # no epochs yet, matplotlib missing: the fix, not a bug
        screen.app.call_from_thread(screen.notify, str(exc), title="No report",
                                    severity="warning", timeout=10, markup=False)
        return
    screen.app.call_from_thread(screen.notify, f"Report written to {path}", title="Report",
                                timeout=15, markup=False)
