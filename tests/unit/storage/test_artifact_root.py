"""The store's artifact root across hosts: new runs' folders follow a root set for the
store (a shared mount), and a lost run's checkpoint that only its own host can see stays
its resume point, pinned to that host, instead of being dropped by whoever reaps it."""

from __future__ import annotations

from pathlib import Path

from support.clock import FixedTime
from support.e2e import cli
from support.store import cfg

from storage import RunStore
from storage.identity import MARKER


def lost_on(store: RunStore, clock: FixedTime, host: str, checkpoint: Path) -> int:
    """A run host ``host`` claimed, checkpointed, then went silent past any lease."""
    run_id = store.create_run(cfg(), max_retries=1)
    assert store.claim_next_run(f"{host}:100:cpu", "cpu", host) is not None
    store.set_checkpoint(run_id, "last", str(checkpoint))
    clock.advance(120)
    return run_id


def test_a_lost_run_whose_checkpoint_only_its_host_sees_is_requeued_pinned_to_it(
        store: RunStore, clock: FixedTime, tmp_path: Path) -> None:
    on_a = tmp_path / "host-a-disk" / "last.pt"  # absent here: it is on host-a's disk
    run_id = lost_on(store, clock, "host-a", on_a)
    [lost] = store.reap_lost_runs("host-b", lease_s=30)
    assert (lost.run_id, lost.status) == (run_id, "queued")
    assert store.get_run(run_id).resume_checkpoint == str(on_a)  # not "start over"
    assert store.claim_next_run("host-b:1:cpu", "cpu", "host-b") is None
    claimed = store.claim_next_run("host-a:2:cpu", "cpu", "host-a")
    assert claimed is not None and claimed.resume_checkpoint == str(on_a)


def test_a_lost_run_whose_checkpoint_is_on_the_shared_root_resumes_on_any_host(
        store: RunStore, clock: FixedTime, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "run-1" / "last.pt"
    shared.parent.mkdir(parents=True)
    shared.write_bytes(b"weights")
    run_id = lost_on(store, clock, "host-a", shared)
    store.reap_lost_runs("host-b", lease_s=30)
    claimed = store.claim_next_run("host-b:1:cpu", "cpu", "host-b")
    assert claimed is not None and (claimed.run_id, claimed.resume_checkpoint) == (
        run_id, str(shared))


def test_a_lost_run_whose_checkpoint_was_deleted_on_its_own_host_starts_over(
        store: RunStore, clock: FixedTime, tmp_path: Path) -> None:
    run_id = lost_on(store, clock, "host-a", tmp_path / "deleted" / "last.pt")
    store.reap_lost_runs("host-a", alive=lambda pid: False, lease_s=30)
    assert store.get_run(run_id).resume_checkpoint is None


def test_runs_created_after_the_root_is_set_put_their_files_under_it(
        store: RunStore, tmp_path: Path) -> None:
    before = store.create_run(cfg())
    old_dir = store.run_dir(before)
    shared = tmp_path / "nfs" / "cifar-runs"
    shared.parent.mkdir()
    assert store.set_artifact_root(shared) == shared.resolve()
    after = store.create_run(cfg())
    assert store.run_dir(after) == shared.resolve() / f"run-{after}"
    assert (shared / MARKER).read_text().strip() == store.store_id
    # Another process opening the store (another host) sees the same root.
    with RunStore(store.url) as other:
        assert other.artifact_root == shared.resolve()
    assert old_dir != store.run_dir(before)  # the root moved; recorded paths stay recorded


def test_store_command_sets_and_shows_the_shared_root(tmp_path: Path) -> None:
    shared = tmp_path / "shared-runs"
    out = cli("store", "--artifact-root", str(shared)).stdout
    assert f"artifact root  {shared.resolve()}  (set now)" in out
    shown = cli("store").stdout
    assert f"artifact root  {shared.resolve()}\n" in shown
    assert "every host" in shown  # says what sharing it is for
