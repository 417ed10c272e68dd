"""A run's end is told in every open TUI: a notification over whatever screen is on top,
and the terminal bell unless the settings turn it off."""

from __future__ import annotations

import pytest
from support.clock import FixedTime
from support.store import cfg
from support.tui_seed import NOW, finished, told, until
from textual.pilot import Pilot

from engine import settings as st
from storage.runs import RunStore
from tui.app import CifarTui, make_app
from tui.run_watch import RunWatch
from tui.screens.help import HelpScreen


def polling_app(store: RunStore) -> CifarTui:
    return make_app(store=store, poll_interval=0.05, clock=lambda: NOW,
                    start_worker=lambda url: 4242, worker_alive=lambda: False)


async def wait(pilot: Pilot, polls: int) -> None:
    """Let a few of the watcher's polls go by: what they would tell is told by then."""
    watch = pilot.app.run_watch
    target = watch.polls + polls
    await until(pilot, lambda: watch.polls >= target)


@pytest.fixture
def rings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rang: list[int] = []
    monkeypatch.setattr(CifarTui, "bell", lambda self: rang.append(1))
    return rang


async def test_runs_ending_while_open_are_told_over_any_screen_with_a_bell(
    store: RunStore, store_clock: FixedTime, seeded: dict[str, int], rings: list[int],
) -> None:
    app = polling_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait(pilot, 4)  # several polls: runs ended before the app opened stay quiet
        assert not any("completed" in t or "failed" in t for t in told(app)) and rings == []
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        store_clock.at(200)
        finished(store, seeded["live"], 0.93, 0.931)
        done = f"Run #{seeded['live']} fast-live completed: 93.1% val"
        await until(pilot, lambda: done in told(app))
        assert rings == [1]
        claimed = store.claim_next_run("w1", "cpu", "gpu-box")
        assert claimed is not None and claimed.run_id == seeded["queued"]
        store.fail_run(claimed.run_id, "boom: the data folder vanished")
        failed = f"Run #{seeded['queued']} failed: boom: the data folder vanished"
        await until(pilot, lambda: failed in told(app))
        await wait(pilot, 3)
        assert told(app).count(done) == 1 and told(app).count(failed) == 1  # once each
        assert rings == [1, 1]


async def test_with_the_bell_off_the_run_is_told_without_ringing(
    store: RunStore, store_clock: FixedTime, seeded: dict[str, int], rings: list[int],
) -> None:
    st.save(st.Settings(bell=False))
    app = polling_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait(pilot, 2)
        store_clock.at(200)
        finished(store, seeded["live"], 0.93, 0.931)
        await until(pilot, lambda: any("fast-live completed" in t for t in told(app)))
        await wait(pilot, 2)
        assert rings == []


def test_a_run_queued_and_ended_between_polls_is_told_and_old_ones_never(
    store: RunStore,
) -> None:
    old = store.create_run(cfg())
    store.claim_next_run("w")
    store.fail_run(old, "long ago")
    watch = RunWatch()
    assert watch.poll(store) == []  # taking stock
    new = store.create_run(cfg(), name="quick")
    store.claim_next_run("w")
    store.fail_run(new, "at once")
    assert [r.id for r in watch.poll(store) or []] == [new]
    assert watch.poll(store) == []
