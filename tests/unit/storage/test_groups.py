"""Seed groups over a real store: a 2×2 grid × 2 seeds (plus a queued seed) in 4 groups,
and statistics equal to those worked out by hand from what the runs were given."""

from __future__ import annotations

import statistics

import pytest
from support.clock import FixedTime
from support.groups import BATCHES, LRS, GridRun, seed_grid
from support.store import epoch

from storage import RunFilter, RunNotFound, RunStore
from storage.groups import (
    band,
    differing_settings,
    group_key,
    group_of,
    load_groups,
    sort_groups,
    stat,
)


@pytest.fixture
def grid(store: RunStore, clock: FixedTime) -> list[GridRun]:
    return seed_grid(store, clock)


def _setting(group) -> tuple[float, int]:  # noqa: ANN001
    return group.settings["max_lr"], group.settings["batch_size"]


def test_grid_of_eight_runs_makes_four_groups_of_one_setting_each(
        store: RunStore, grid: list[GridRun]) -> None:
    groups = load_groups(store)
    assert sorted(_setting(g) for g in groups) == sorted((lr, bs) for lr in LRS for bs in BATCHES)
    for g in groups:
        want = {r.run_id for r in grid if (r.max_lr, r.batch_size) == _setting(g)}
        extra = 1 if _setting(g) == (0.01, 200) else 0  # the queued third seed
        assert len(set(g.run_ids) & want) == 2 and g.n == 2 + extra
        assert g.label == f"g:{min(g.run_ids)}"
        assert "seed" not in g.settings and "name" not in g.settings


def test_group_statistics_equal_mean_and_sample_stdev_by_hand(
        store: RunStore, grid: list[GridRun]) -> None:
    for g in load_groups(store):
        runs = [r for r in grid if (r.max_lr, r.batch_size) == _setting(g)]
        best = [max(r.val_accs) for r in runs]
        tests = [r.test_acc for r in runs]
        secs = [r.seconds for r in runs]
        for name, values in (("best_val_acc", best), ("test_acc", tests),
                             ("duration_s", secs)):
            s = g.stats[name]
            assert s.n == 2
            assert s.mean == pytest.approx(statistics.mean(values))
            assert s.std == pytest.approx(statistics.stdev(values))
            assert s.std > 0


def test_queued_run_counts_in_n_but_not_in_the_statistics(
        store: RunStore, grid: list[GridRun]) -> None:
    (g,) = [g for g in load_groups(store) if _setting(g) == (0.01, 200)]
    assert g.n == 3 and [r.status for r in g.runs] == ["completed", "completed", "queued"]
    assert g.stats["best_val_acc"].n == 2 and g.stats["test_acc"].n == 2
    assert g.seeds == (0, 1, 2)
    assert g.to_dict()["statuses"] == {"completed": 2, "queued": 1}


def test_a_failed_run_with_epochs_counts_in_n_but_not_in_the_figures(
        store: RunStore, grid: list[GridRun]) -> None:
    (before,) = [g for g in load_groups(store) if _setting(g) == (0.01, 200)]
    claimed = store.claim_next_run("grid-worker")  # the queued third seed
    assert claimed is not None and claimed.run_id == before.runs[-1].id
    store.record_epoch(claimed.run_id, epoch(1, 0.99))
    store.fail_run(claimed.run_id, "diverged")
    (after,) = [g for g in load_groups(store) if _setting(g) == (0.01, 200)]
    assert after.runs[-1].best_val_acc == 0.99 and after.runs[-1].status == "failed"
    assert after.n == 3 and after.stats == before.stats


def test_filter_groups_only_the_matching_runs(store: RunStore, grid: list[GridRun]) -> None:
    groups = load_groups(store, RunFilter(status="queued"))
    assert [g.n for g in groups] == [1]
    assert groups[0].stats["best_val_acc"] == stat([])


def test_one_value_has_no_std_and_none_values_are_skipped() -> None:
    assert stat([0.5]).std is None and stat([0.5]).mean == 0.5
    assert stat([None, 0.2, 0.4]) == stat([0.2, 0.4])
    assert stat([None]).mean is None and stat([None]).n == 0


def test_seed_and_name_are_the_only_settings_ignored() -> None:
    base = {"model": "resnet9", "max_lr": 0.01, "seed": 0, "name": "a", "log_every": 10}
    assert group_key(base) == group_key({**base, "seed": 7, "name": "b"})
    assert group_key(base) != group_key({**base, "log_every": 20})
    # A config stored before a field existed groups with one that has it at its default.
    assert group_key({k: v for k, v in base.items() if k != "log_every"}) == group_key(base)


def test_group_of_finds_every_run_of_the_store_in_the_group(
        store: RunStore, grid: list[GridRun]) -> None:
    first = grid[0]
    mates = [r.run_id for r in grid if (r.max_lr, r.batch_size) == (first.max_lr,
                                                                    first.batch_size)]
    assert group_of(store, mates[1]) == [*mates, max(r.run_id for r in grid) + 1]
    with pytest.raises(RunNotFound):
        group_of(store, 999)


def test_sort_by_mean_and_the_settings_that_tell_groups_apart(
        store: RunStore, grid: list[GridRun]) -> None:
    groups = sort_groups(load_groups(store), "best_val_acc", descending=True)
    means = [g.stats["best_val_acc"].mean for g in groups]
    assert means == sorted(means, reverse=True)
    assert differing_settings(groups) == ["batch_size", "max_lr"]


def test_band_is_mean_min_and_max_per_epoch(store: RunStore, grid: list[GridRun]) -> None:
    runs = [r for r in grid if (r.max_lr, r.batch_size) == (0.02, 400)]
    curves = [store.get_epochs(r.run_id) for r in runs]
    points = band(curves, "val_acc")
    assert [p.epoch for p in points] == [1, 2, 3]
    for p in points:
        values = [r.val_accs[p.epoch - 1] for r in runs]
        assert p.mean == pytest.approx(statistics.mean(values))
        assert (p.low, p.high, p.n) == (pytest.approx(min(values)),
                                        pytest.approx(max(values)), 2)
