"""Two windows on one run: notes and tags edits never overwrite each other, and an open
detail screen picks up what changed elsewhere (issue 11)."""

from __future__ import annotations

from pathlib import Path

from support.clock import FixedTime
from support.tui_seed import NOW, WorkerStarts, settle, told, until
from textual.pilot import Pilot
from textual.widgets import Input

from storage.runs import RunStore
from tui.app import CifarTui, make_app
from tui.screens.detail import RunDetailScreen

CONFLICT = ("the note of run {} was changed elsewhere since you opened it; "
            "reload to see it, then edit again")


def window(db: Path, poll_interval: float | None = None) -> CifarTui:
    """Another TUI on the same SQLite file, with its own RunStore."""
    store = RunStore(f"sqlite:///{db}", clock=FixedTime())
    return make_app(store=store, poll_interval=poll_interval, clock=lambda: NOW,
                    start_worker=WorkerStarts(), worker_alive=lambda: False)


async def open_detail(pilot: Pilot, run_id: int) -> RunDetailScreen:
    screen = RunDetailScreen(run_id)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.run is not None)
    return screen


def value(screen: RunDetailScreen, field: str) -> str:
    return screen.query_one(f"#{field}", Input).value


async def edit(pilot: Pilot, key: str, field: str, text: str) -> None:
    """Focus a field with its key, replace its text as a user would, and press enter."""
    await pilot.press(key)
    pilot.app.screen.query_one(f"#{field}", Input).value = text
    await pilot.press("enter")
    await settle(pilot)


async def test_a_tag_saved_from_a_stale_window_keeps_the_note_and_a_stale_note_is_refused(
    tmp_path: Path, store: RunStore, seeded: dict[str, int],
) -> None:
    db, run_id = tmp_path / "runs.db", seeded["baseline"]
    a, b = window(db), window(db)
    async with a.run_test(size=(120, 40)) as pa, b.run_test(size=(120, 40)) as pb:
        screen_a, screen_b = await open_detail(pa, run_id), await open_detail(pb, run_id)
        await edit(pa, "e", "notes", "from A")
        await edit(pb, "t", "tags", "baseline, from-b")  # B still shows the old, empty note
        run = store.get_run(run_id)
        assert (run.notes, run.tags) == ("from A", ("baseline", "from-b"))
        assert value(screen_b, "notes") == "from A"  # B's save read the run back

        await edit(pa, "e", "notes", "from A, again")  # no polling here: B's copy is stale
        await edit(pb, "e", "notes", "from B")
        assert any(CONFLICT.format(run_id) in t and "from B" in t for t in told(b))
        assert store.get_run(run_id).notes == "from A, again"
        assert value(screen_b, "notes") == "from A, again"  # reloaded: the next edit goes in
        await edit(pb, "e", "notes", "from A, then B")
        assert store.get_run(run_id).notes == "from A, then B"
        assert value(screen_a, "notes") == "from A, again"  # A has not looked since


async def test_a_tag_edit_saves_only_what_it_added_or_removed(
    tmp_path: Path, store: RunStore, seeded: dict[str, int],
) -> None:
    run_id = seeded["baseline"]
    app = window(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, run_id)
        assert value(screen, "tags") == "baseline"
        store.remove_tag(run_id, "baseline")  # elsewhere, while this screen shows it
        store.add_tag(run_id, "elsewhere")
        await edit(pilot, "t", "tags", "baseline, mine")
        assert store.get_run(run_id).tags == ("elsewhere", "mine")
        assert value(screen, "tags") == "elsewhere, mine"


async def test_an_open_detail_screen_picks_up_notes_tags_and_status_from_polls(
    tmp_path: Path, store: RunStore, seeded: dict[str, int],
) -> None:
    run_id = seeded["queued"]
    app = window(tmp_path / "runs.db", poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, run_id)
        store.set_note(run_id, "written in another window")
        store.add_tag(run_id, "picked-up")
        store.request_cancel(run_id)
        # One poll may land between these writes: wait for a refresh that saw all three.
        await until(pilot, lambda: value(screen, "notes") == "written in another window"
                    and value(screen, "tags") == "picked-up, sweep"
                    and screen.run is not None and screen.run.status == "cancelled")


async def test_a_refresh_never_touches_an_input_being_typed_in(
    tmp_path: Path, store: RunStore, seeded: dict[str, int],
) -> None:
    run_id = seeded["wide"]
    app = window(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, run_id)
        await pilot.press("e", *"half typed")
        store.set_note(run_id, "changed elsewhere")
        store.add_tag(run_id, "new")
        screen.load()
        await settle(pilot)
        assert value(screen, "notes") == "half typed"  # focused: left alone
        assert value(screen, "tags") == "new, sweep"  # not being edited: refreshed
        await pilot.press("enter")  # typed from a stale copy: refused, nothing lost
        await settle(pilot)
        assert store.get_run(run_id).notes == "changed elsewhere"
        assert any(CONFLICT.format(run_id) in t for t in told(app))


async def test_a_read_that_began_before_a_save_never_undoes_it(
    tmp_path: Path, store: RunStore, seeded: dict[str, int],
) -> None:
    run_id = seeded["baseline"]
    app = window(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, run_id)
        tickets, before = dict(screen.saves_done), store.get_run(run_id)  # a slow poll's read
        await edit(pilot, "e", "notes", "saved")
        await edit(pilot, "t", "tags", "baseline, saved")
        screen.post_message(RunDetailScreen.Loaded(before, tickets))  # ...lands only now
        await settle(pilot)
        assert (value(screen, "notes"), value(screen, "tags")) == ("saved", "baseline, saved")
        await edit(pilot, "e", "notes", "saved twice")  # its version is still the current one
        assert store.get_run(run_id).notes == "saved twice"


async def test_a_run_deleted_elsewhere_is_told_once_and_polling_stops(
    tmp_path: Path, store: RunStore, seeded: dict[str, int],
) -> None:
    run_id = seeded["wide"]
    app = window(tmp_path / "runs.db", poll_interval=0.02)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, run_id)
        store.delete_run(run_id)
        await until(pilot, lambda: screen.timer is None)
        for _ in range(5):  # several poll intervals: no further notifications
            await pilot.pause(0.02)
        assert told(app) == [f"Run #{run_id} was deleted elsewhere; escape goes back."]
