"""Keys kept out of the 80-column footer (sweeps, groups, workers, report...) join it while
the terminal is wide enough for them, and leave it again when it narrows."""

from __future__ import annotations

from support.tui_seed import settle, until
from textual.widgets._footer import FooterKey

from tui.screens.detail import RunDetailScreen
from tui.widgets.keys_footer import KeysFooter


def footer_keys(app) -> list[str]:  # noqa: ANN001
    """The keys the current screen's footer shows (none while it is being composed)."""
    return [key.key for footer in app.screen.query(KeysFooter) for key in footer.query(FooterKey)]


async def test_home_footer_gains_hidden_keys_when_wide_and_loses_them_when_narrow(app) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        narrow = footer_keys(app)
        assert "S" not in narrow and "a" not in narrow and "question_mark" in narrow
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: "S" in footer_keys(app))
        wide = footer_keys(app)
        added = [k for k in wide if k not in narrow]
        assert added == ["S", "a", "w", "R"]  # in FOOTER_IF_ROOM's order, while they fit
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "S" not in footer_keys(app))
        assert footer_keys(app) == narrow


async def test_the_detail_footer_shows_the_report_key_when_wide(app, seeded) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(RunDetailScreen(seeded["baseline"]))
        await until(pilot, lambda: "o" in footer_keys(app))
        footer = app.screen.query_one(KeysFooter)
        report = next(k for k in footer.query(FooterKey) if k.key == "o")
        assert report.description == "Report"
        await pilot.press("o")  # the key shown is the key bound: it writes the report
        await until(pilot, lambda: any("Report written to" in n.message
                                       for n in app._notifications), seconds=60)
