"""StoreRecorder turns a run's event stream into store writes."""

from __future__ import annotations

from support.store import cfg, epoch, finished

from engine.events import CheckpointSaved, RunFailed, StepMetrics
from storage import RunStore
from worker.recorder import StoreRecorder, open_foreground_run


def step(i: int) -> StepMetrics:
    return StepMetrics(step=i, epoch=1, loss=0.5, lr=0.1, images_per_s=10.0)


def test_steps_are_buffered_until_flush_then_events_flush_them(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    rec = StoreRecorder(store, run_id, flush_seconds=3600)
    for i in range(5):
        rec.handle(step(i))
    assert store.get_steps(run_id) == []
    rec.handle(epoch(1, 0.6))  # any other event writes the buffered steps first
    assert len(store.get_steps(run_id)) == 5
    rec.handle(CheckpointSaved(epoch=1, path="/ck/last.pt", kind="last"))
    rec.handle(step(5))
    rec.handle(finished())
    run = store.get_run(run_id)
    assert rec.done and run.status == "completed" and len(store.get_steps(run_id)) == 6
    assert run.checkpoints == {"last": "/ck/last.pt"}
    rec.handle(step(99))  # after the end nothing more is written
    rec.flush()
    assert len(store.get_steps(run_id)) == 6


def test_failure_event_fails_the_run(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    rec = StoreRecorder(store, run_id)
    rec.handle(RunFailed(reason="boom", traceback="tb"))
    assert store.get_run(run_id).error == "boom"


def test_foreground_run_is_running_at_once_and_interrupted_if_left(db_path) -> None:
    rec = open_foreground_run(str(db_path), cfg())
    with RunStore(str(db_path)) as store:
        assert store.get_run(rec.run_id).status == "running"
        assert store.claim_next_run("a-worker") is None  # no worker can take it
        rec.handle(step(0))
        rec.close()
        run = store.get_run(rec.run_id)
        assert run.status == "interrupted" and len(store.get_steps(rec.run_id)) == 1
