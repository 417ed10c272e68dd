"""The issue's grid: `queue` with a 2x2 grid and --repeat 2 queues 8 runs in 4 seed groups,
and `runs --group` gives the statistics computed by hand from the stored results."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from support.store import epoch, finished

from cli.main import main
from storage import RunStore


def test_a_2x2_grid_repeated_twice_is_8_runs_in_4_groups_with_hand_statistics(
        tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "runs.db")
    assert main(["--db", db, "queue", "--no-worker", "--dataset", "synthetic",
                 "--max-lr", "0.01,0.02", "--optimizer", "adam,sgd", "--repeat", "2"]) == 0
    assert "8 run(s): 4 grid point(s) x 2 seeds" in capsys.readouterr().out
    store = RunStore(db)
    results: dict[int, tuple[float, float, float]] = {}  # run id -> (best val, test, seconds)
    for k in range(8):
        claimed = store.claim_next_run("w")
        assert claimed is not None
        best, test = 0.30 + 0.07 * k, 0.20 + 0.05 * (k % 3)
        store.record_epoch(claimed.run_id, epoch(1, best))
        store.finish_run(claimed.run_id, finished(best=best, test_acc=test))
        results[claimed.run_id] = (best, test, store.get_run(claimed.run_id).duration_s)
    runs = {r.id: r for r in store.list_runs(limit=20)}
    assert len(runs) == 8
    by_setting: dict[tuple, list[int]] = {}
    for run_id in results:
        config = store.get_run(run_id).config
        by_setting.setdefault((config["max_lr"], config["optimizer"]), []).append(run_id)
    assert len(by_setting) == 4 and all(len(ids) == 2 for ids in by_setting.values())
    store.close()

    assert main(["--db", db, "runs", "--group", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert len(groups) == 4
    for group in groups:
        key = (group["settings"]["max_lr"], group["settings"]["optimizer"])
        ids = sorted(by_setting[key])
        assert sorted(group["run_ids"]) == ids and group["n"] == 2 and group["seeds"] == [0, 1]
        for column, index in (("best_val_acc", 0), ("test_acc", 1), ("duration_s", 2)):
            values = [results[i][index] for i in ids]
            assert group[column]["mean"] == statistics.mean(values)
            assert group[column]["std"] == statistics.stdev(values)
