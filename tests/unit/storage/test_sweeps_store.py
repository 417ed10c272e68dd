"""Sweeps in the store and their Optuna study: reservations, telling, pruning, cancelling.

Runs are taken through the real store API (claim, epochs, finish); no worker needed.
"""

from __future__ import annotations

import statistics
import threading

import pytest
from support.store import epoch, finished

from engine.sweep_spec import ParamRange, SweepSpec
from storage import InvalidRunState, RunStore
from storage.errors import SweepNotFound
from storage.studies import trial_states
from worker.sweeps import judge, queue_sweep, settle, study_of, summarize, top_up

FIXED = dict(dataset="synthetic", width_mult=0.125, device="cpu")


def finish(store: RunStore, run_id: int, best: float) -> None:
    claimed = store.claim_next_run(f"w-{run_id}")
    assert claimed is not None and claimed.run_id == run_id
    store.record_epoch(run_id, epoch(1, best))
    store.finish_run(run_id, finished(best=best))


def quiet(_line: str) -> None:
    pass


def test_a_grid_with_repeat_queues_every_seed_and_tells_each_trial_its_mean(store) -> None:
    spec = SweepSpec(method="grid", values={"max_lr": (0.01, 0.02)}, repeat=2, fixed=FIXED)
    sweep_id, run_ids = queue_sweep(store, spec)
    runs = store.sweep_runs(sweep_id)
    assert len(run_ids) == 4 and [(r.trial_number, r.config["seed"]) for r in runs] == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    assert [r.config["max_lr"] for r in runs] == [0.01, 0.01, 0.02, 0.02]
    accs = {run_ids[0]: 0.5, run_ids[1]: 0.7, run_ids[2]: 0.6, run_ids[3]: 0.8}
    for run_id, acc in accs.items():
        finish(store, run_id, acc)
    settle(store, quiet)
    record = store.get_sweep(sweep_id)
    states = trial_states(study_of(store, record))
    assert states[0][:2] == ("complete", pytest.approx(statistics.fmean([0.5, 0.7])))
    assert states[1][:2] == ("complete", pytest.approx(statistics.fmean([0.6, 0.8])))
    assert (record.status, record.trials_told, record.run_counts) == (
        "completed", 2, {"completed": 4})
    summary = summarize(store, sweep_id)
    assert [t.number for t in summary.trials] == [1, 0] and summary.best.number == 1
    assert summary.best_so_far == [(0, pytest.approx(0.6)), (1, pytest.approx(0.7))]


def test_a_tpe_sweep_asks_one_trial_at_a_time_and_never_more_than_it_has(store) -> None:
    spec = SweepSpec(method="tpe", trials=2, ranges={"max_lr": ParamRange(1e-3, 1e-1, True)},
                     fixed=FIXED)
    sweep_id, queued = queue_sweep(store, spec)
    assert queued == [] and store.sweep_runs(sweep_id) == []
    first = top_up(store, quiet)
    assert len(first) == 1 and top_up(store, quiet) == []  # one is queued: wait for it
    finish(store, first[0], 0.4)
    second = top_up(store, quiet)
    assert len(second) == 1
    finish(store, second[0], 0.3)
    assert top_up(store, quiet) == []  # two trials asked: the sweep is full
    settle(store, quiet)
    record = store.get_sweep(sweep_id)
    assert (record.status, record.trials_asked, record.trials_told) == ("completed", 2, 2)


def test_reservations_from_many_threads_never_exceed_the_trials(store) -> None:
    sweep_id = store.create_sweep(name=None, method="random", metric="val_acc", goal="max",
                                  spec={}, n_trials=5)
    got: list[int | None] = []
    lock = threading.Lock()

    def reserve() -> None:
        number = store.reserve_trials(sweep_id)
        with lock:
            got.append(number)

    threads = [threading.Thread(target=reserve) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for n in got if n is not None) == [0, 1, 2, 3, 4]
    assert store.get_sweep(sweep_id).trials_asked == 5


def test_failed_cancelled_and_pruned_runs_are_told_so(store) -> None:
    spec = SweepSpec(method="grid", values={"max_lr": (0.01, 0.02, 0.03)}, fixed=FIXED,
                     prune=True)
    sweep_id, (failed, pruned, cancelled) = queue_sweep(store, spec)
    store.claim_next_run("w")
    store.fail_run(failed, "boom")
    store.claim_next_run("w")
    store.record_epoch(pruned, epoch(1, 0.1))
    store.mark_pruned(pruned)
    assert store.request_cancel(cancelled) == "cancelled"
    settle(store, quiet)
    record = store.get_sweep(sweep_id)
    states = trial_states(study_of(store, record))
    assert [states[n][0] for n in range(3)] == ["fail", "pruned", "fail"]
    run = store.get_run(pruned)
    assert run.status == "pruned" and len(run.epoch_rows) == 1  # its metrics are kept
    assert "pruned" in (run.error or "")


def test_cancelling_a_sweep_cancels_its_queued_runs_and_asks_no_more(store) -> None:
    spec = SweepSpec(method="random", trials=3, ranges={"max_lr": ParamRange(1e-3, 1e-2)},
                     fixed=FIXED)
    sweep_id, _ = queue_sweep(store, spec)
    (run_id,) = top_up(store, quiet)
    message = store.cancel_sweep(sweep_id)
    assert message == f"sweep {sweep_id} cancelled: 1 run(s) cancelled, 0 running run(s) stopping"
    assert store.get_run(run_id).status == "cancelled"
    assert top_up(store, quiet) == []
    settle(store, quiet)
    record = store.get_sweep(sweep_id)
    assert (record.status, record.trials_told) == ("cancelled", 1)
    with pytest.raises(InvalidRunState, match="already cancelled"):
        store.cancel_sweep(sweep_id)


def test_an_unknown_sweep_is_one_line(store) -> None:
    with pytest.raises(SweepNotFound, match=r"^no sweep 99; `cifar-tui sweeps` lists them$"):
        store.get_sweep(99)


def test_judge_needs_every_seed_to_finish(store) -> None:
    spec = SweepSpec(method="grid", repeat=2, fixed=FIXED, metric="test_acc")
    sweep_id, (a, b) = queue_sweep(store, spec)
    finish(store, a, 0.5)
    store.claim_next_run("w")
    store.fail_run(b, "diverged")
    record = store.get_sweep(sweep_id)
    assert judge(record, store.sweep_runs(sweep_id)) == ("fail", None)


def test_a_trial_asked_by_a_process_that_died_before_queueing_its_runs_is_failed(store) -> None:
    from storage.studies import ask, distributions

    spec = SweepSpec(method="random", trials=2, ranges={"max_lr": ParamRange(1e-3, 1e-2)},
                     fixed=FIXED)
    sweep_id, _ = queue_sweep(store, spec)
    record = store.get_sweep(sweep_id)
    store.reserve_trials(sweep_id)
    study = study_of(store, record)
    number, _ = ask(study, distributions(spec.values, spec.ranges))  # then the asker died
    settle(store, quiet)  # just asked: it may still be queueing its runs
    assert trial_states(study)[number][0] == "running"
    settle(store, quiet, orphan_after_s=0.0)
    assert trial_states(study)[number][0] == "fail"
    (run_id,) = top_up(store, quiet)  # the sweep goes on with its last trial
    finish(store, run_id, 0.5)
    settle(store, quiet)
    assert store.get_sweep(sweep_id).status == "completed"
