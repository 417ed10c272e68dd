"""Resuming a run whose checkpoint only another host has (no shared artifact root): the
question says which host will resume it, and the requeued run waits for that host."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.store import cfg, epoch
from support.tui_seed import settle, table_ids
from textual.widgets import DataTable

from storage.runs import RunStore
from tui import control
from tui.app import CifarTui
from tui.screens.confirm import ConfirmDialog


def interrupted_on(store: RunStore, host: str, checkpoint: Path, epochs: int = 3) -> int:
    """A run trained on ``host`` for ``epochs`` epochs, then interrupted (no retries)."""
    run_id = store.create_run(cfg(dataset="synthetic", epochs=8))
    assert store.claim_next_run(f"{host}:100:cpu", "cpu", host) is not None
    for n in range(1, epochs + 1):
        store.record_epoch(run_id, epoch(n, 0.1 * n))
    store.set_checkpoint(run_id, "last", str(checkpoint))
    store.mark_interrupted(run_id, f"{host} vanished")
    return run_id


def test_a_checkpoint_another_host_wrote_and_this_one_cannot_see_is_held_by_it(
        store: RunStore, tmp_path: Path) -> None:
    on_a = tmp_path / "host-a-only" / "last.pt"
    run = store.get_run(interrupted_on(store, "host-a", on_a))
    assert control.resume_source(run, here="host-b") == control.ResumeSource(str(on_a), "host-a")
    # On host-a itself the file is simply gone: start over rather than fail in the worker.
    assert control.resume_source(run, here="host-a") == control.ResumeSource(None)
    on_a.parent.mkdir()
    on_a.write_bytes(b"weights")  # a shared root: every host sees it, nobody holds it
    assert control.resume_source(run, here="host-b") == control.ResumeSource(str(on_a))


async def test_resume_says_which_host_will_resume_it_and_the_run_waits_for_that_host(
        app: CifarTui, store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIFAR_TUI_HOST", "host-b")
    on_a = tmp_path / "host-a-only" / "last.pt"
    run_id = interrupted_on(store, "host-a", on_a)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.query_one(DataTable).move_cursor(row=table_ids(app).index(run_id))
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog), app.screen
        assert app.screen.question == (
            f"Resume run #{run_id} from its last checkpoint (epoch 3)? Its checkpoint is on "
            "host-a's disk (no shared artifact root): a worker on host-a will resume it. "
            "No worker is running: this starts this store's worker.")
        await pilot.press("y")
        await settle(pilot)
    run = store.get_run(run_id)
    assert (run.status, run.resume_checkpoint) == ("queued", str(on_a))
    assert store.claim_next_run("host-b:7:cpu", "cpu", "host-b") is None
    claimed = store.claim_next_run("host-a:8:cpu", "cpu", "host-a")
    assert claimed is not None and claimed.resume_checkpoint == str(on_a)


def test_the_cli_words_for_a_pinned_resume_name_the_host(
        store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.common import resume_from

    monkeypatch.setenv("CIFAR_TUI_HOST", "host-b")
    on_a = tmp_path / "host-a-only" / "last.pt"
    run_id = interrupted_on(store, "host-a", on_a)
    assert resume_from(store, run_id) == (
        str(on_a), f"from {on_a}; its checkpoint is on host-a's disk (no shared artifact "
                   "root): a worker on host-a will resume it")
    monkeypatch.setenv("CIFAR_TUI_HOST", "host-a")  # on host-a the file is gone: start over
    assert resume_from(store, run_id) == (None, "from the start (no checkpoint)")
