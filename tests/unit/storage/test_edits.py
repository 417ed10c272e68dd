"""Notes and tags change as single operations: an edit never overwrites another one."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.store import cfg

from storage import EditConflict, RunStore, StoreError
from storage.errors import RunNotFound


def test_every_note_edit_bumps_the_version(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    assert store.get_run(run_id).notes_version == 0
    assert store.set_note(run_id, "  first  ") == 1
    assert store.set_note(run_id, "second", expected_version=1) == 2
    run = store.get_run(run_id)
    assert (run.notes, run.notes_version) == ("second", 2)
    assert store.set_note(run_id, "   ") == 3  # clearing is an edit too
    assert store.get_run(run_id).notes is None


def test_a_note_edit_from_an_old_version_is_refused_and_writes_nothing(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    loaded = store.get_run(run_id).notes_version
    store.set_note(run_id, "written elsewhere", expected_version=loaded)
    with pytest.raises(EditConflict) as caught:
        store.set_note(run_id, "my stale edit", expected_version=loaded)
    assert str(caught.value) == (
        f"the note of run {run_id} was changed elsewhere since you opened it; "
        "reload to see it, then edit again")
    assert isinstance(caught.value, StoreError)
    run = store.get_run(run_id)
    assert (run.notes, run.notes_version) == ("written elsewhere", 1)


def test_append_keeps_the_note_written_elsewhere(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    assert store.append_note(run_id, "lr too high") == 1
    store.set_note(run_id, "lr too high, diverged")
    assert store.append_note(run_id, " retry at 0.02 ") == 3
    assert store.get_run(run_id).notes == "lr too high, diverged; retry at 0.02"


def test_tag_edits_and_note_edits_leave_each_other_alone(store: RunStore) -> None:
    run_id = store.create_run(cfg(), tags=["sweep"])
    store.set_note(run_id, "keep me")
    store.add_tag(run_id, "paper")
    store.add_tag(run_id, "paper")  # adding twice is one tag
    assert store.remove_tag(run_id, "sweep") is True
    assert store.remove_tag(run_id, "sweep") is False
    run = store.get_run(run_id)
    assert (run.notes, run.notes_version, run.tags) == ("keep me", 1, ("paper",))


def test_note_edits_of_a_missing_run_say_so(store: RunStore) -> None:
    with pytest.raises(RunNotFound):
        store.set_note(99, "x", expected_version=0)
    with pytest.raises(RunNotFound):
        store.append_note(99, "x")


def test_two_stores_on_one_file_see_one_version(db_path: Path) -> None:
    """Two windows (two RunStore objects) on one SQLite file: the second editor's stale
    version is refused, the first editor's note survives."""
    with RunStore(str(db_path)) as a, RunStore(str(db_path)) as b:
        run_id = a.create_run(cfg())
        seen_by_a = a.get_run(run_id).notes_version
        seen_by_b = b.get_run(run_id).notes_version
        a.set_note(run_id, "from A", expected_version=seen_by_a)
        b.add_tag(run_id, "from-b")
        with pytest.raises(EditConflict):
            b.set_note(run_id, "from B", expected_version=seen_by_b)
        run = a.get_run(run_id)
        assert (run.notes, run.tags) == ("from A", ("from-b",))
