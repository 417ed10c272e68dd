"""The system pane (issue 12, the machine in view): each GPU's figures, CPU, RAM and disk,
refreshed off the UI thread; "no NVIDIA GPU" and why when NVML is absent; never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from support.fake_machine import NO_DRIVER, FakeMachine
from support.tui_seed import settle
from textual.widgets import Static

from tui.screens.system import SystemScreen, bar, machine_text, sparkline
from worker.machine import MachineReading, close_nvml


def pane_text(app) -> str:  # noqa: ANN001
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.screen.query_one("#system-body", Static).content)
    return console.export_text()


async def open_pane(app, pilot, screen: SystemScreen) -> None:  # noqa: ANN001
    await settle(pilot)
    await app.push_screen(screen)
    await settle(pilot)


def test_bars_fill_in_eighths_and_an_unread_figure_is_dotted() -> None:
    assert bar(0.5, 8, "cyan").plain == "████░░░░"
    assert bar(1 / 16, 2, "cyan").plain == "▏░"
    assert bar(1.7, 4, "cyan").plain == "████"  # clamped
    assert bar(None, 3, "cyan").plain == "···"
    assert sparkline([0, 50, 100, None], 10).plain == "▁▅█ "


def test_every_line_fits_the_width_it_is_given() -> None:
    reading = FakeMachine()()
    for width in (56, 72, 111):  # the pane is 72 wide at 80 columns
        lines = machine_text(reading, [reading.sample] * 3, width).plain.splitlines()
        assert max(len(line) for line in lines) <= width, width


async def test_each_gpu_shows_utilisation_memory_temperature_and_power(app) -> None:  # noqa: ANN001
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pane(app, pilot, SystemScreen(reader=FakeMachine()))
        text = pane_text(app)
        assert "GPU 0  NVIDIA H100 80GB HBM3" in text and "GPU 1  NVIDIA A10" in text
        assert "97%" in text and "60.0/79.6 GiB" in text and "78 °C" in text
        assert "612 W" in text
        assert "0.5/22.5 GiB" in text and "38 °C" in text
        gpu1 = next(line for line in text.splitlines() if line.startswith("GPU 1"))
        assert gpu1.rstrip().endswith("–")  # its unreadable power, not a crash
        assert "CPU" in text and "41%" in text and "5.2/15.6 GiB" in text and "63%" in text
        assert "no NVIDIA GPU" not in text


async def test_without_nvml_the_pane_says_no_nvidia_gpu_and_why(app) -> None:  # noqa: ANN001
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pane(app, pilot, SystemScreen(reader=FakeMachine((), NO_DRIVER)))
        text = pane_text(app)
        assert NO_DRIVER in text
        assert "CPU" in text and "RAM" in text and "disk" in text


@pytest.mark.skipif(Path("/proc/driver/nvidia").exists(), reason="this machine has a driver")
async def test_the_real_machine_without_a_gpu_reads_without_failing(app) -> None:  # noqa: ANN001
    close_nvml()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_pane(app, pilot, SystemScreen())  # psutil and NVML, for real
        text = pane_text(app)
        assert "no NVIDIA GPU (" in text and "CPU" in text and "runs' files" in text
        assert app.return_code is None and not app._notifications
    close_nvml()


async def test_a_failing_reader_is_said_in_the_pane_and_the_next_read_recovers(app) -> None:  # noqa: ANN001
    fake = FakeMachine()
    calls = {"n": 0}

    def flaky() -> MachineReading:
        calls["n"] += 1
        if calls["n"] == 1:
            raise PermissionError("/proc/stat: permission denied")
        return fake()

    async with app.run_test(size=(80, 24)) as pilot:
        screen = SystemScreen(reader=flaky)
        await open_pane(app, pilot, screen)
        assert "could not read the machine: PermissionError: /proc/stat" in pane_text(app)
        assert not app._notifications  # said once, in place, not a toast every 2 s
        screen.poll()
        await settle(pilot)
        assert "GPU 0" in pane_text(app)


async def test_each_refresh_reads_again_off_the_ui_thread_and_draws_history(app) -> None:  # noqa: ANN001
    import threading

    threads: list[str] = []
    fake = FakeMachine()

    def reader() -> MachineReading:
        threads.append(threading.current_thread().name)
        return fake()

    async with app.run_test(size=(120, 40)) as pilot:
        screen = SystemScreen(reader=reader)
        await open_pane(app, pilot, screen)
        assert "last 2 min" not in pane_text(app)  # one reading is no history yet
        for _ in range(3):
            screen.poll()
            await settle(pilot)
        text = pane_text(app)
        assert fake.reads == 4 and "80%" in text  # CPU 41 + 3 * 13
        assert "last 2 min" in text and "GPU 1 util" in text
        assert threading.main_thread().name not in threads


async def test_the_pane_refreshes_by_itself_when_the_app_polls(store) -> None:  # noqa: ANN001
    from support.tui_seed import NOW, until

    from tui.app import make_app

    polling = make_app(store=store, poll_interval=0.05, clock=lambda: NOW,
                       start_worker=lambda _url: 1, worker_alive=lambda: False)
    fake = FakeMachine()
    async with polling.run_test(size=(80, 24)) as pilot:
        await polling.push_screen(SystemScreen(reader=fake, refresh_seconds=0.05))
        await until(pilot, lambda: fake.reads >= 3)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(polling.screen, SystemScreen))


async def test_m_opens_the_machine_pane_from_home_and_live_and_closes_it(app, seeded) -> None:  # noqa: ANN001
    from support.tui_seed import table_ids

    from tui.screens.live import LiveRunScreen
    from tui.widgets.run_table import RunTable

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen)
        assert "CPU" in pane_text(app)
        await pilot.press("m")
        await settle(pilot)
        assert not isinstance(app.screen, SystemScreen)
        app.screen.query_one(RunTable).move_cursor(row=table_ids(app).index(seeded["live"]))
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LiveRunScreen)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, SystemScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, LiveRunScreen)
