"""Every write in a run's life: queue, claim, metrics, the end states, resume, delete."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from support.clock import T0, FixedTime
from support.store import cfg, completed_run, epoch, finished

from engine.config import ConfigError
from engine.events import RunStarted, StepMetrics
from storage import InvalidRunState, RunNotFound, RunStore, StoreError


def steps(start: int, stop: int, loss: float = 1.0, epoch_no: int = 1) -> list[StepMetrics]:
    return [StepMetrics(step=i, epoch=epoch_no, loss=loss, lr=0.01, images_per_s=100.0)
            for i in range(start, stop)]


def test_create_run_queues_it_with_readable_name_and_key_columns(store: RunStore) -> None:
    run_id = store.create_run(cfg(max_lr=0.02, batch_size=256),
                              tags=["baseline", "baseline", " "])
    run = store.get_run(run_id)
    assert run.status == "queued"
    assert run.name == f"resnet9-{run_id:04d}"
    assert (run.max_lr, run.batch_size, run.model, run.optimizer) == (0.02, 256, "resnet9", "adam")
    assert run.config["max_lr"] == 0.02
    assert run.tags == ("baseline",)
    assert run.created_at == T0 and run.created_at.tzinfo == timezone.utc


def test_create_run_keeps_a_given_name_and_refuses_a_bad_config(store: RunStore) -> None:
    assert store.get_run(store.create_run(cfg(), name="my run")).name == "my run"
    with pytest.raises(ConfigError):
        store.create_run(cfg(max_lr=-1.0))


def test_claim_takes_oldest_queued_run_once(store: RunStore) -> None:
    first, second = store.create_run(cfg()), store.create_run(cfg())
    a = store.claim_next_run("w1", device="cpu", host="box")
    b = store.claim_next_run("w2")
    assert (a.run_id, b.run_id) == (first, second)
    assert store.claim_next_run("w3") is None
    run = store.get_run(first)
    assert (run.status, run.worker_id, run.device, run.host) == ("running", "w1", "cpu", "box")
    assert run.started_at is not None and run.heartbeat_at is not None


def test_heartbeat_renews_lease_and_reports_cancel_or_lost_ownership(
        store: RunStore, clock: FixedTime) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w1")
    assert store.get_run(run_id).heartbeat_at == T0
    clock.advance(5)
    assert store.heartbeat(run_id, "w1") is False
    assert store.get_run(run_id).heartbeat_at == T0 + timedelta(seconds=5)
    assert store.heartbeat(run_id, "someone-else") is True
    assert store.request_cancel(run_id) == "cancelling"
    assert store.cancel_requested(run_id) is True
    assert store.heartbeat(run_id, "w1") is True


def test_record_start_stores_environment(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    store.record_start(run_id, RunStarted(config={}, device="cuda:0", host="gpu1",
                                          torch_version="2.5.0", num_params=6_500_000,
                                          num_train=100, num_val=10, num_test=10,
                                          steps_per_epoch=125, total_steps=1000),
                       git_commit="abc123")
    run = store.get_run(run_id)
    assert (run.device, run.host, run.torch_version) == ("cuda:0", "gpu1", "2.5.0")
    assert (run.num_params, run.total_steps, run.steps_per_epoch, run.git_commit) == (
        6_500_000, 1000, 125, "abc123")


def test_append_steps_is_idempotent_and_tracks_progress(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.append_steps(run_id, steps(0, 100))
    store.append_steps(run_id, steps(90, 120, loss=0.5, epoch_no=2))  # a resume replays 90..99
    rows = store.get_steps(run_id)
    assert [r.step for r in rows] == list(range(120))
    assert rows[95].loss == 0.5 and rows[50].loss == 1.0
    assert [r.step for r in store.get_steps(run_id, after_step=115)] == [116, 117, 118, 119]
    run = store.get_run(run_id)
    assert (run.current_step, run.current_epoch) == (119, 2)


def test_append_steps_to_missing_run_raises_run_not_found(store: RunStore) -> None:
    with pytest.raises(RunNotFound):
        store.append_steps(999, steps(0, 3))


def test_record_epoch_upserts_and_derives_best_and_final(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    for n, acc in ((1, 0.5), (2, 0.8), (3, 0.7)):
        store.record_epoch(run_id, epoch(n, acc))
    store.record_epoch(run_id, epoch(3, 0.75))  # replayed after a resume
    run = store.get_run(run_id)
    assert [e.val_acc for e in run.epoch_rows] == [0.5, 0.8, 0.75]
    assert (run.best_val_acc, run.final_val_acc, run.current_epoch) == (0.8, 0.75, 3)
    assert store.get_epochs(run_id) == run.epoch_rows


def test_finish_run_fills_results_and_duration(store: RunStore, clock: FixedTime) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    for n, acc in ((1, 0.6), (2, 0.7)):
        store.record_epoch(run_id, epoch(n, acc))
    clock.advance(90)
    store.finish_run(run_id, finished())
    store.set_checkpoint(run_id, "best", "/ck/best.pt")
    run = store.get_run(run_id)
    assert run.status == "completed"
    assert (run.best_val_acc, run.test_acc, run.test_loss) == (0.7, 0.9, 0.3)
    assert run.class_names[0] == "c0" and len(run.confusion) == 10
    assert (run.started_at, run.finished_at, run.duration_s) == (
        T0, T0 + timedelta(seconds=90), 90.0)
    assert run.checkpoints == {"best": "/ck/best.pt"}
    with pytest.raises(ValueError):
        store.set_checkpoint(run_id, "middle", "/x")


def test_fail_run_keeps_one_line_reason_and_full_traceback(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    store.fail_run(run_id, "CUDA out of memory\nmore detail", traceback="Traceback...\nboom")
    run = store.get_run(run_id)
    assert (run.status, run.error, run.traceback) == ("failed", "CUDA out of memory",
                                                       "Traceback...\nboom")


def test_cancel_queued_is_immediate_running_is_flagged_terminal_refused(store: RunStore) -> None:
    queued = store.create_run(cfg())
    assert store.request_cancel(queued) == "cancelled"
    assert store.get_run(queued).status == "cancelled"
    running = store.create_run(cfg())
    store.claim_next_run("w")
    assert store.request_cancel(running) == "cancelling"
    store.mark_cancelled(running)
    assert store.get_run(running).status == "cancelled"
    with pytest.raises(InvalidRunState, match="is cancelled"):
        store.request_cancel(running)


def test_cancel_keeps_metrics_so_far(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    store.append_steps(run_id, steps(0, 10))
    store.record_epoch(run_id, epoch(1, 0.4))
    store.request_cancel(run_id)
    store.mark_cancelled(run_id)
    assert len(store.get_steps(run_id)) == 10 and len(store.get_run(run_id).epoch_rows) == 1


def test_requeue_for_resume_keeps_history_and_sets_checkpoint(
        store: RunStore, clock: FixedTime) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    store.record_epoch(run_id, epoch(1, 0.4))
    store.mark_interrupted(run_id, "worker stopped")
    clock.advance(1)
    store.create_run(cfg())  # queued before the requeue, so the requeued run goes behind it
    clock.advance(1)
    store.requeue_for_resume(run_id, "/ck/last.pt")
    run = store.get_run(run_id)
    assert (run.status, run.resume_checkpoint, run.error) == ("queued", "/ck/last.pt", None)
    assert len(run.epoch_rows) == 1
    assert store.claim_next_run("w").run_id != run_id
    claimed = store.claim_next_run("w")
    assert (claimed.run_id, claimed.resume_checkpoint) == (run_id, "/ck/last.pt")
    with pytest.raises(InvalidRunState, match="running"):
        store.requeue_for_resume(run_id, None)


def test_completed_run_cannot_be_requeued_or_interrupted(store: RunStore) -> None:
    run_id = completed_run(store, [0.5])
    with pytest.raises(InvalidRunState):
        store.requeue_for_resume(run_id, None)
    with pytest.raises(InvalidRunState):
        store.mark_interrupted(run_id, "x")


def test_tags_notes_and_delete(store: RunStore) -> None:
    run_id = completed_run(store, [0.5])
    store.append_steps(run_id, steps(0, 5))
    store.add_tag(run_id, "best")
    store.add_tag(run_id, "best")
    store.add_tag(run_id, "lr-sweep")
    assert store.get_run(run_id).tags == ("best", "lr-sweep")
    assert store.remove_tag(run_id, "best") is True and store.remove_tag(run_id, "best") is False
    with pytest.raises(StoreError):
        store.add_tag(run_id, "  ")
    store.set_note(run_id, "a good one")
    assert store.get_run(run_id).notes == "a good one"
    store.delete_run(run_id)
    with pytest.raises(RunNotFound, match=f"no run with id {run_id}; `cifar-tui runs` lists them"):
        store.get_run(run_id)
    with pytest.raises(RunNotFound):
        store.get_steps(run_id)
    # The metrics went with it, and the id is never reused.
    assert store.create_run(cfg()) == run_id + 1


def test_running_run_cannot_be_deleted(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    with pytest.raises(InvalidRunState, match="cancel it"):
        store.delete_run(run_id)


def test_resolve_run_by_id_or_unique_name(store: RunStore) -> None:
    a = store.create_run(cfg(), name="alpha")
    store.create_run(cfg(), name="twin")
    store.create_run(cfg(), name="twin")
    assert [store.resolve_run(ref) for ref in (str(a), f"#{a}", "alpha")] == [a, a, a]
    with pytest.raises(RunNotFound):
        store.resolve_run("nope")
    with pytest.raises(RunNotFound):
        store.resolve_run("404")
    with pytest.raises(StoreError, match="several runs"):
        store.resolve_run("twin")


def test_finish_after_late_report_from_interrupted_run_is_accepted(store: RunStore) -> None:
    run_id = store.create_run(cfg())
    store.claim_next_run("w")
    store.mark_interrupted(run_id, "looked dead")
    store.finish_run(run_id, finished(best=0.9))
    assert store.get_run(run_id).status == "completed"
