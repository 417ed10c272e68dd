"""Sweeps through real workers: Optuna asks, runs train, Optuna is told; pruning; a kill."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from support.e2e import cli, start_worker, training_children, wait_for

from engine.sweep_spec import ParamRange, SweepSpec
from storage import RunStore
from storage.studies import trial_states
from worker.sweeps import queue_sweep, study_of, summarize

# What a tiny synthetic run fixes (see support.e2e.TINY), as a sweep's fixed fields.
TINY_FIXED = dict(dataset="synthetic", limit_train=256, width_mult=0.125, batch_size=32,
                  device="cpu", log_every=4)


def test_a_tpe_sweep_of_6_trials_is_drained_by_two_workers_and_told(tmp_path: Path) -> None:
    spec = SweepSpec(method="tpe", trials=6, ranges={"max_lr": ParamRange(1e-3, 1e-1, log=True)},
                     fixed={**TINY_FIXED, "epochs": 1}, name="lr-search")
    store = RunStore()
    sweep_id, queued = queue_sweep(store, spec)
    assert queued == []  # asked as workers free up
    out = cli("worker", "--devices", "cpu:0,cpu:1", "--exit-when-empty", timeout=400).stdout
    assert "asked trial 5" in out and f"sweep {sweep_id}: completed" in out
    record = store.get_sweep(sweep_id)
    assert (record.status, record.trials_asked, record.trials_told) == ("completed", 6, 6)
    states = trial_states(study_of(store, record))
    assert sorted(states) == list(range(6))
    assert {state for state, _, _ in states.values()} == {"complete"}
    runs = store.sweep_runs(sweep_id)
    assert len(runs) == 6 and {r.status for r in runs} == {"completed"}
    for run in runs:  # the study holds each run's own result, for the lr it trained with
        state, value, params = states[run.trial_number]
        assert value == run.best_val_acc and params["max_lr"] == run.config["max_lr"]
        assert 1e-3 <= params["max_lr"] <= 1e-1
    summary = summarize(store, sweep_id)
    assert summary.best is not None and summary.best.value == max(v for _, v, _ in states.values())


def test_a_run_that_learns_nothing_is_pruned_and_its_epochs_kept(tmp_path: Path) -> None:
    # Trials run in order on one worker: two learn, then one whose lr is too small to.
    spec = SweepSpec(method="grid", values={"max_lr": (0.05, 0.02, 1e-9)}, prune=True,
                     fixed={**TINY_FIXED, "epochs": 6}, name="prune-me")
    store = RunStore()
    sweep_id, queued = queue_sweep(store, spec)
    assert len(queued) == 3
    out = cli("worker", "--device", "cpu", "--exit-when-empty", timeout=400).stdout
    good, _, hopeless = (store.get_run(i) for i in queued)
    assert good.status == "completed", good.error
    assert hopeless.status == "pruned", (hopeless.status, out)
    assert 2 <= len(hopeless.epoch_rows) < 6  # judged from epoch 2, stopped before the end
    assert f"run {hopeless.id}: pruned after epoch" in out
    states = trial_states(study_of(store, store.get_sweep(sweep_id)))
    assert states[2][0] == "pruned"
    assert store.get_sweep(sweep_id).status == "completed"


def test_a_killed_trial_is_told_as_failed(tmp_path: Path, procs) -> None:
    spec = SweepSpec(method="random", trials=1, ranges={"max_lr": ParamRange(1e-3, 1e-2)},
                     fixed={**TINY_FIXED, "epochs": 50}, name="doomed", retries=0)
    store = RunStore()
    sweep_id, _ = queue_sweep(store, spec)
    worker = start_worker("--device", "cpu", log=tmp_path / "worker.log")
    procs.append(worker)
    run = wait_for(lambda: next((r for r in store.sweep_runs(sweep_id)
                                 if r.status == "running"), None), 120, "the trial to train")
    child = wait_for(lambda: training_children(worker.pid), 60, "the training child")[0]
    os.kill(child, signal.SIGKILL)
    record = store.get_sweep(sweep_id)
    wait_for(lambda: trial_states(study_of(store, record))[0][0] == "fail", 60,
             "the study to hear the trial failed")
    assert store.get_run(run.run_id).status == "interrupted"
    wait_for(lambda: store.get_sweep(sweep_id).status == "completed", 30, "the sweep to end")
