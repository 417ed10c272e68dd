"""The run history: sort, filter, search, paging and live refresh."""

from __future__ import annotations

from support.tui_seed import settle, table_ids
from textual.widgets import Input, Select, Static

from engine.config import config_from_preset
from engine.events import StepMetrics
from tui.screens.home import PAGE, HomeScreen
from tui.widgets.run_table import RunTable


async def test_default_order_is_newest_first(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert table_ids(app) == [5, 4, 3, 2, 1]


async def test_sort_key_cycles_columns_and_r_reverses(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("s")  # created -> id (cycles to the first column)
        await settle(pilot)
        assert app.screen.query_one(RunTable).sort_key == "id"
        assert table_ids(app) == [5, 4, 3, 2, 1]
        await pilot.press("r")
        await settle(pilot)
        assert table_ids(app) == [1, 2, 3, 4, 5]
        for _ in range(5):  # id -> name -> model -> status -> epochs -> best val
            await pilot.press("s")
        await settle(pilot)
        assert app.screen.query_one(RunTable).sort_key == "best"
        # best val acc, highest first; runs without one last
        assert table_ids(app)[:3] == [seeded["baseline"], seeded["wide"], seeded["live"]]


async def test_clicking_a_header_sorts_by_that_column(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        columns = table.ordered_columns
        index = [c.key.value for c in columns].index("test")
        x = sum(c.get_render_width(table) for c in columns[:index]) + 2
        await pilot.click(RunTable, offset=(x, 0))
        await settle(pilot)
        assert table.sort_key == "test"
        assert table_ids(app)[:2] == [seeded["baseline"], seeded["wide"]]


async def test_filter_by_status_model_tag_and_text(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#status", Select).value = "completed"
        await settle(pilot)
        assert table_ids(app) == [seeded["wide"], seeded["baseline"]]
        screen.query_one("#model", Select).value = "resnet18"
        await settle(pilot)
        assert table_ids(app) == [seeded["wide"]]
        screen.query_one("#status", Select).clear()
        screen.query_one("#model", Select).clear()
        screen.query_one("#tag", Input).value = "sweep"
        await settle(pilot)
        assert table_ids(app) == [seeded["queued"], seeded["wide"]]
        screen.query_one("#tag", Input).value = ""
        await pilot.press("slash", *"fast")
        await settle(pilot)
        assert table_ids(app) == [seeded["live"]]
        assert "1 run ·" in str(screen.query_one("#home-status", Static).render())


async def test_rows_are_paged_in_as_the_cursor_nears_the_end(app, store, store_clock) -> None:
    config = config_from_preset("seed", dataset="synthetic")
    for i in range(PAGE * 2 + 30):
        store_clock.at(i)
        store.create_run(config, name=f"bulk-{i}")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        assert table.row_count == PAGE
        status = str(app.screen.query_one("#home-status", Static).render())
        assert f"{PAGE * 2 + 30} runs ({PAGE} loaded)" in status
        await pilot.press("end")
        await settle(pilot)
        assert table.row_count == 2 * PAGE
        await pilot.press("end")
        await settle(pilot)
        assert table.row_count == PAGE * 2 + 30
        assert table_ids(app)[-1] == 1


async def test_poll_updates_a_running_run_in_place(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        live = seeded["live"]
        assert table.summaries[live].current_step == 67
        store.append_steps(live, [StepMetrics(step=120, epoch=6, loss=0.3, lr=0.1,
                                              images_per_s=5000.0, time=0.0)])
        assert isinstance(app.screen, HomeScreen)
        app.screen.poll()
        await settle(pilot)
        assert table.summaries[live].current_step == 120
        assert "running 75%" in str(table.get_cell(str(live), "status"))


async def test_poll_shows_runs_queued_elsewhere(app, store, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        new_id = store.create_run(config_from_preset("seed", dataset="synthetic"), name="from-cli")
        app.screen.poll()
        await settle(pilot)
        assert table_ids(app)[0] == new_id
