"""A sweep's Optuna study, kept in the run store's own database (Optuna's RDB storage).

Optuna chooses the trials (TPE or random sampling, or a grid's fixed points), judges
pruning from each trial's reported epochs, and ranks parameter importances. Its tables
sit beside the runs; its Alembic version table is alembic_version, ours cifar_tui_version.
Imported only by sweep code: optuna takes about a second to import.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from storage.db import BUSY_TIMEOUT_MS, driver_url

# A pruned trial needs finished peers to be judged against, and never in its first epoch.
PRUNE_STARTUP_TRIALS = 2
PRUNE_WARMUP_EPOCHS = 2  # epochs count from 1: judged from the second on
_STORAGES: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage_for(url: str, store_id: str = "") -> Any:
    """One RDBStorage per store in this process (each opens its own engine). Keyed by the
    store's identity too: a store made anew at the same URL gets a fresh one."""
    optuna = _optuna()
    with _LOCK:
        if (url, store_id) not in _STORAGES:
            kwargs: dict[str, Any] = {"pool_pre_ping": True}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
            storage = optuna.storages.RDBStorage(driver_url(url), engine_kwargs=kwargs)
            if url.startswith("sqlite"):
                _relaxed_sync(storage.engine)
            _STORAGES[url, store_id] = storage
        return _STORAGES[url, store_id]


def _relaxed_sync(engine: Any) -> None:
    """As the store's own connections: in WAL mode, NORMAL sync is still crash-safe, and
    Optuna commits a dozen times per trial asked or told."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


def sampler_for(method: str, seed: int | None = None) -> Any:
    samplers = _optuna().samplers
    if method == "tpe":
        return samplers.TPESampler(seed=seed)
    return samplers.RandomSampler(seed=seed)  # random; a grid's points are enqueued


def pruner_for(prune: bool) -> Any:
    pruners = _optuna().pruners
    if not prune:
        return pruners.NopPruner()
    return pruners.MedianPruner(n_startup_trials=PRUNE_STARTUP_TRIALS,
                                n_warmup_steps=PRUNE_WARMUP_EPOCHS)


def open_study(url: str, store_id: str, name: str, *, goal: str, method: str, prune: bool,
               create: bool = False) -> Any:
    optuna = _optuna()
    direction = "maximize" if goal == "max" else "minimize"
    sampler, pruner = sampler_for(method), pruner_for(prune)
    if create:
        return optuna.create_study(storage=storage_for(url, store_id), study_name=name,
                                   direction=direction, sampler=sampler, pruner=pruner)
    return optuna.load_study(storage=storage_for(url, store_id), study_name=name, sampler=sampler,
                             pruner=pruner)


def distributions(values: Mapping[str, tuple[Any, ...]],
                  ranges: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna distributions for a spec's lists (categorical) and ranges (float or int)."""
    dist = _optuna().distributions
    out: dict[str, Any] = {name: dist.CategoricalDistribution(list(choices))
                           for name, choices in values.items()}
    for name, r in ranges.items():
        if r.integer:
            out[name] = dist.IntDistribution(int(r.low), int(r.high), log=r.log)
        else:
            out[name] = dist.FloatDistribution(float(r.low), float(r.high), log=r.log)
    return out


def ask(study: Any, dists: dict[str, Any], fixed: dict[str, Any] | None = None
        ) -> tuple[int, dict[str, Any]]:
    """A new trial: its number and parameters (``fixed``: a grid point, enqueued first)."""
    if fixed is not None:
        study.enqueue_trial(fixed, skip_if_exists=False)
    trial = study.ask(dists)
    return trial.number, dict(trial.params)


def tell(study: Any, number: int, state: str, value: float | None = None) -> None:
    """End a trial as "complete" (with its value), "pruned" or "fail"; a trial another
    worker already told is left as it is."""
    optuna = _optuna()
    states = {"complete": optuna.trial.TrialState.COMPLETE,
              "pruned": optuna.trial.TrialState.PRUNED, "fail": optuna.trial.TrialState.FAIL}
    try:
        study.tell(number, value if state == "complete" else None, state=states[state],
                   skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:
        pass  # another worker told it between Optuna's check and its write


def report(study: Any, number: int, value: float, epoch: int) -> bool:
    """Report an epoch's value for a running trial; True when the pruner stops it."""
    optuna = _optuna()
    storage = study._storage  # the study's own; optuna.trial.Trial wants the study anyway
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    trial = optuna.trial.Trial(study, trial_id)
    trial.report(value, epoch)
    return trial.should_prune()


def trial_states(study: Any) -> dict[int, tuple[str, float | None, dict[str, Any]]]:
    """Trial number -> (state, value, params); states in lower case."""
    return states_of(trials_of(study))


def trials_of(study: Any) -> list[Any]:
    """The study's trials, read once for ``states_of`` and ``pruned_epochs`` alike."""
    return study.get_trials(deepcopy=False)


def states_of(trials: list[Any]) -> dict[int, tuple[str, float | None, dict[str, Any]]]:
    return {t.number: (t.state.name.lower(), t.value, dict(t.params)) for t in trials}


def pruned_epochs(trials: list[Any]) -> dict[int, int]:
    """Pruned trial number -> the epoch it was stopped at: Optuna keeps that epoch's
    reported score as a pruned trial's value, not a final one."""
    return {t.number: t.last_step for t in trials
            if t.state.name == "PRUNED" and t.last_step is not None}


def stale_trials(study: Any, with_runs: set[int], older_than_s: float) -> list[int]:
    """Running trials that have no runs, asked more than ``older_than_s`` ago: the process
    that asked them died before queueing their runs, so nothing will ever end them."""
    import datetime

    now = datetime.datetime.now()  # Optuna stamps trials with naive local times
    return [t.number for t in study.get_trials(deepcopy=False)
            if t.state.name == "RUNNING" and t.number not in with_runs
            and t.datetime_start is not None
            and (now - t.datetime_start).total_seconds() > older_than_s]


def importances(study: Any) -> dict[str, float]:
    """Parameter importances (Optuna's default fANOVA evaluator); empty when it cannot say."""
    optuna = _optuna()
    complete = [t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
