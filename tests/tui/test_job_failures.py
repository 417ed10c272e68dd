"""A failed background job is never silent: the App's one handler shows it as an error.

Any exception counts, not only store errors: a bug shows one line and names the file
that holds its traceback; a store that broke under the app shows its fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.tui_seed import settle
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import WorkerFailed

from storage.runs import RunStore
from tui.jobs import job
from tui.screens.home import HomeScreen


class BrokenScreen(Screen[None]):
    """A screen whose background job hits a bug (not a store error)."""

    def compose(self) -> ComposeResult:
        yield Static("broken")

    def on_mount(self) -> None:
        self.explode()

    @job("explode")
    def explode(self) -> None:
        raise KeyError("missing-column\nsecond line")


def errors(app) -> list[str]:  # noqa: ANN001
    return [n.message for n in app._notifications if n.severity == "error"]


async def failed_job(pilot) -> None:  # noqa: ANN001
    """Wait for the job that is expected to fail, then for the App to handle it."""
    with pytest.raises(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_a_job_that_raises_a_bug_shows_an_error_notification(
    app, seeded, isolated_env: Path,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert errors(app) == []
        await app.push_screen(BrokenScreen())
        await failed_job(pilot)
        shown = errors(app)
        assert len(shown) == 1 and "\n" not in shown[0]
        assert shown[0].startswith("KeyError: 'missing-column")
        saved = Path(shown[0].rsplit("traceback in ", 1)[1].rstrip(")"))
        assert saved.is_relative_to(isolated_env / "logs") and "KeyError" in saved.read_text()
        assert app.is_running  # the app goes on


async def test_a_store_broken_under_the_app_shows_its_fix(
    app, seeded, store: RunStore,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        store.close()  # drop pooled connections, then someone overwrites the file
        Path(store.url.removeprefix("sqlite:///")).write_bytes(b"\x00not sqlite" * 400)
        for suffix in ("-wal", "-shm"):
            Path(store.url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        home = app.screen
        assert isinstance(home, HomeScreen)
        home.poll()
        await failed_job(pilot)
        shown = errors(app)
        assert len(shown) == 1 and "\n" not in shown[0]
        assert "is not a cifar-tui store" in shown[0] and "pass --db" in shown[0]
