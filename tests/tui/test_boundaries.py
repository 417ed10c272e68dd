"""The TUI starts without torch, and the CLI reports store problems in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage.errors import SchemaTooNewError

REPO = Path(__file__).resolve().parents[2]


def test_importing_and_building_the_app_leaves_torch_out(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from tui.app import make_app\n"
        f"app = make_app(db_url='sqlite:///{tmp_path / 'runs.db'}')\n"
        "import tui.screens.live, tui.screens.compare, tui.screens.detail, tui.screens.new_run\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(("
        "'torch.', 'engine.train', 'engine.data', 'engine.models', 'worker.supervisor', "
        "'worker.recorder')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_store_error_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tui.app
    from cli.main import main

    def too_new(*_args: object, **_kwargs: object) -> None:
        raise SchemaTooNewError(
            "the database is from a newer cifar-tui (schema 9); upgrade cifar-tui")

    monkeypatch.setattr(tui.app, "make_app", too_new)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("cifar-tui: error: the database is from a newer cifar-tui (schema 9); "
                           "upgrade cifar-tui")
    assert "Traceback" not in err


def test_quitting_says_what_keeps_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import tui.app
    from cli.main import main
    from engine.config import config_from_preset
    from storage.runs import RunStore

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with RunStore(url) as store:
        store.create_run(config_from_preset("seed", dataset="synthetic"))
    monkeypatch.setattr(tui.app.CifarTui, "run", lambda self, **_: None)  # the user quits at once
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # a terminal, not capsys's pipe
    assert main(["--db", url]) == 0
    out = capsys.readouterr().out
    assert "0 running and 1 queued run(s) keep going" in out


async def test_a_store_that_cannot_open_ends_the_app_with_code_2_and_says_why(
    tmp_path: Path,
) -> None:
    """The store opens after the first frame; a bad --db must still end in one line, exit 2."""
    from storage.errors import NotAStore
    from tui.app import make_app

    bad = tmp_path / "notes.txt"
    bad.write_text("not a database\n")
    app = make_app(db_url=str(bad), poll_interval=None, start_worker=lambda url: 0,
                   worker_alive=lambda: False)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(250):  # bounded: the store thread fails within moments
            if app.return_code is not None:
                break
            await pilot.pause(0.02)
    assert app.return_code == 2
    assert isinstance(app.ctx.slot.error, NotAStore)
    assert "is not a cifar-tui store" in str(app.ctx.slot.error)
