"""o on the detail and compare screens writes the HTML report in a thread and says where
(issue 15); the TUI's start-up never imports matplotlib."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support.tui_seed import settle, told, until

from storage.runs import RunStore
from tui.app import CifarTui
from tui.screens.compare import CompareScreen
from tui.screens.detail import RunDetailScreen

REPO = Path(__file__).resolve().parents[2]


def written_path(app: CifarTui) -> Path | None:
    for message in told(app):
        if found := re.fullmatch(r"Report written to (.+)", message):
            return Path(found.group(1))
    return None


async def test_o_on_the_detail_screen_writes_the_run_report(app, store: RunStore,
                                                            seeded) -> None:
    run_id = seeded["baseline"]
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(RunDetailScreen(run_id))
        await settle(pilot)
        await pilot.press("o")
        await until(pilot, lambda: written_path(app) is not None, seconds=60)
    path = written_path(app)
    assert path == store.run_dir(run_id) / "report.html" and path.is_absolute()
    html = path.read_text()
    assert "baseline" in html and html.count('src="data:image/png;base64,') == 2


async def test_o_on_the_compare_screen_writes_one_report_of_all_runs(app, store: RunStore,
                                                                     seeded) -> None:
    ids = [seeded["baseline"], seeded["wide"]]
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(CompareScreen(ids))
        await settle(pilot)
        await pilot.press("o")
        await until(pilot, lambda: written_path(app) is not None, seconds=60)
    path = written_path(app)
    assert path is not None and path.parent == store.artifact_root / "reports"
    html = path.read_text()
    assert "baseline" in html and "r18-lr0.02" in html


async def test_o_on_a_run_with_no_epochs_warns_and_writes_nothing(app, store: RunStore,
                                                                  seeded) -> None:
    run_id = seeded["queued"]
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(RunDetailScreen(run_id))
        await settle(pilot)
        await pilot.press("o")
        await until(pilot, lambda: any("no epochs yet" in m for m in told(app)), seconds=60)
    assert written_path(app) is None
    assert not (store.run_dir(run_id) / "report.html").exists()


async def test_the_help_lists_the_report_key(app, seeded) -> None:
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
    assert text.count("Write an HTML report") == 2  # run detail and compare


def test_tui_start_up_does_not_import_matplotlib() -> None:
    code = ("import sys, tui.app, tui.screens.detail, tui.screens.compare, tui.screens.help, "
            "cli.main; cli.main.build_parser(); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"
