"""The run log viewer (issue 12, the machine in view): `L` on the live and detail screens
shows the last lines of the run's train.log, follows new ones while the run is active, and
says in one line why there is no log instead of failing."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.tui_seed import NOW, WorkerStarts, settle, until
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Log, Static

from storage.runs import RunStore
from tui.app import CifarTui, make_app
from tui.log_tail import read_new
from tui.screens.detail import RunDetailScreen
from tui.screens.live import LiveRunScreen
from tui.screens.run_log import LINES, RunLogScreen, missing_reason


def write_log(store: RunStore, run_id: int, lines: list[str]) -> Path:
    path = store.run_dir(run_id) / "train.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


async def open_log(pilot: Pilot, screen: Screen) -> RunLogScreen:
    await settle(pilot)
    await pilot.app.push_screen(screen)
    await settle(pilot)
    await pilot.press("L")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RunLogScreen)
    return pilot.app.screen


def title(screen: RunLogScreen) -> str:
    return str(screen.query_one("#run-log-title", Static).content)


# -- reading a growing file ----------------------------------------------------------------
def test_read_new_holds_back_a_half_written_line_and_restarts_on_a_cut_file(
        tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    assert read_new(path, None, 10, 1000) is None  # no file: no chunk, no error
    path.write_text("one\ntwo\nthr")
    first = read_new(path, None, 10, 1000)
    assert first is not None and first.lines == ["one", "two"] and first.reset
    with open(path, "a") as fh:
        fh.write("ee\nfour\n")
    second = read_new(path, first.offset, 10, 1000)
    assert second is not None and second.lines == ["three", "four"] and not second.reset
    ended = read_new(path, second.offset, 10, 1000)
    assert ended is not None and ended.lines == []
    path.write_text("new\n")  # cut short (a resumed run's log rewritten): start over
    again = read_new(path, ended.offset, 10, 1000)
    assert again is not None and again.lines == ["new"] and again.reset
    path.write_text("x" * 50 + "\nlast\npartial")
    tail = read_new(path, None, 10, 20, whole_lines_only=False)
    assert tail is not None and tail.lines == ["last", "partial"]  # the cut first line dropped


# -- the viewer ----------------------------------------------------------------------------
@pytest.mark.parametrize("screen_class", [LiveRunScreen, RunDetailScreen])
async def test_L_opens_the_runs_log_with_its_last_lines_and_escape_closes_it(
        app: CifarTui, store: RunStore, seeded: dict[str, int],
        screen_class: type[Screen]) -> None:
    run_id = seeded["baseline"]
    write_log(store, run_id, [f"epoch line {i}" for i in range(LINES + 100)])
    async with app.run_test(size=(100, 30)) as pilot:
        viewer = await open_log(pilot, screen_class(run_id))
        lines = list(viewer.query_one(Log).lines)
        assert len(lines) == LINES
        assert lines[0] == "epoch line 100" and lines[-1] == f"epoch line {LINES + 99}"
        assert f"Log of run #{run_id}" in title(viewer)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, screen_class)


async def test_a_run_with_no_log_says_why_in_one_line(
        app: CifarTui, seeded: dict[str, int]) -> None:
    run_id = seeded["wide"]
    async with app.run_test(size=(80, 24)) as pilot:
        viewer = await open_log(pilot, RunDetailScreen(run_id))
        assert title(viewer) == missing_reason(run_id, "completed")
        assert title(viewer) == (f"no log for run #{run_id}: it was trained before run logs "
                                 "existed, or in a foreground `train` on another machine")
        assert not viewer.query_one(Log).display


async def test_new_lines_of_an_active_run_appear_after_a_poll(
        store: RunStore, seeded: dict[str, int]) -> None:
    run_id = seeded["live"]  # running
    path = write_log(store, run_id, ["epoch 1/8: train loss 2.1"])
    app = make_app(store=store, poll_interval=0.02, clock=lambda: NOW,
                   start_worker=WorkerStarts(), worker_alive=lambda: False)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.push_screen(LiveRunScreen(run_id))
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, RunLogScreen)
                    and list(app.screen.query_one(Log).lines) == ["epoch 1/8: train loss 2.1"],
                    20)
        log = app.screen.query_one(Log)
        with open(path, "a") as fh:
            fh.write("epoch 2/8: train loss 1.7\n")
        await until(pilot, lambda: list(log.lines)[-1:] == ["epoch 2/8: train loss 1.7"], 20)
        assert list(log.lines) == ["epoch 1/8: train loss 2.1", "epoch 2/8: train loss 1.7"]
        assert "following" in title(app.screen)
