"""Browsing: list with filter/sort/page, details, compare, export."""

from __future__ import annotations

import pytest
from support.store import cfg, completed_run, epoch

from storage import BadFilter, RunFilter, RunNotFound, RunStore


@pytest.fixture
def history(store: RunStore) -> dict[str, int]:
    ids = {
        "low": completed_run(store, [0.5, 0.6], max_lr=0.01),
        "high": completed_run(store, [0.7, 0.9], max_lr=0.05, model="resnet18"),
        "mid": completed_run(store, [0.8], max_lr=0.02),
    }
    ids["queued"] = store.create_run(cfg(), name="waiting")
    store.add_tag(ids["high"], "sweep")
    store.add_tag(ids["mid"], "sweep")
    store.set_note(ids["low"], "tried 100% augment_x")
    return ids


def test_list_sorts_by_best_val_acc_with_empty_values_last(store: RunStore, history) -> None:
    desc = store.list_runs(sort="best_val_acc")
    order = [history[k] for k in ("high", "mid", "low")]
    assert [r.id for r in desc] == [*order, history["queued"]]
    asc = store.list_runs(sort="best_val_acc", descending=False)
    assert [r.id for r in asc] == [*reversed(order), history["queued"]]


def test_list_filters_by_status_model_tag_and_text(store: RunStore, history) -> None:
    def ids(**kw) -> set[int]:
        return {r.id for r in store.list_runs(RunFilter(**kw))}

    assert ids(status="queued") == {history["queued"]}
    assert ids(status=["queued", "completed"]) == set(history.values())
    assert ids(status="queued,completed") == set(history.values())
    assert ids(model="resnet18") == {history["high"]}
    assert ids(tag="sweep") == {history["high"], history["mid"]}
    assert ids(text="WAIT") == {history["queued"]}
    assert ids(text="100%") == {history["low"]}  # LIKE wildcards are taken literally
    assert ids(text="augment_x") == {history["low"]}
    assert ids(text=str(history["mid"])) >= {history["mid"]}
    assert store.count_runs(RunFilter(tag="sweep", status="completed")) == 2


def test_list_pages_with_limit_and_offset(store: RunStore, history) -> None:
    pages = [store.list_runs(sort="id", descending=False, limit=2, offset=o) for o in (0, 2, 4)]
    assert [[r.id for r in p] for p in pages] == [sorted(history.values())[:2],
                                                  sorted(history.values())[2:], []]


def test_list_summary_carries_tags_and_progress(store: RunStore, history) -> None:
    (high,) = store.list_runs(RunFilter(model="resnet18"))
    assert high.tags == ("sweep",) and high.current_epoch == 2 and high.best_val_acc == 0.9


def test_unknown_sort_or_status_names_the_valid_ones(store: RunStore) -> None:
    with pytest.raises(BadFilter, match="choose from: id, name"):
        store.list_runs(sort="password")
    with pytest.raises(BadFilter, match="unknown status 'done'"):
        store.list_runs(RunFilter(status="done"))


def test_compare_shows_only_differing_config_and_metrics_side_by_side(store, history) -> None:
    c = store.compare([history["high"], history["low"]])
    assert c.run_ids == [history["high"], history["low"]]
    assert c.config_diff == {"max_lr": [0.05, 0.01], "model": ["resnet18", "resnet9"]}
    assert c.metrics["best_val_acc"] == [0.9, 0.6]
    assert [e.val_acc for e in c.curves[history["high"]]] == [0.7, 0.9]
    assert c.to_dict()["curves"][str(history["low"])][0]["epoch"] == 1


def test_compare_with_a_missing_run_raises_run_not_found(store, history) -> None:
    with pytest.raises(RunNotFound, match="id 12345"):
        store.compare([history["low"], 12345])


def test_export_rows_one_per_run_epoch_with_run_columns_repeated(store, history) -> None:
    rows = store.export_rows([history["low"], history["queued"]])
    assert [(r["run_id"], r["epoch"]) for r in rows] == [
        (history["low"], 1), (history["low"], 2), (history["queued"], None)]
    assert rows[0]["max_lr"] == rows[1]["max_lr"] == 0.01
    assert len({tuple(r) for r in rows}) == 1  # the same columns in every record
    assert len(store.export_rows()) == 2 + 2 + 1 + 1


def test_detail_has_config_results_and_epochs(store: RunStore) -> None:
    run_id = completed_run(store, [0.5, 0.7])
    store.record_epoch(run_id, epoch(3, None))  # an epoch without validation
    d = store.get_run(run_id)
    assert d.config["model"] == "resnet9" and d.per_class_acc == [0.9] * 10
    assert [e.epoch for e in d.epoch_rows] == [1, 2, 3] and d.best_val_acc == 0.7
    assert d.to_dict()["epoch_rows"][0]["val_acc"] == 0.5
