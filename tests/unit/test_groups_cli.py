"""`runs --group` and `compare g:N` in-process through cli.main, on the seeded grid."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from support.clock import FixedTime
from support.groups import GridRun, seed_grid

from cli.main import main
from storage import RunStore


@pytest.fixture
def grid(db_path: Path, clock: FixedTime) -> list[GridRun]:
    with RunStore(str(db_path), clock=clock) as store:
        return seed_grid(store, clock)


def run(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _mates(grid: list[GridRun], lr: float, bs: int) -> list[GridRun]:
    return [r for r in grid if (r.max_lr, r.batch_size) == (lr, bs)]


def test_runs_group_json_gives_n_and_the_statistics(capsys, db_path: Path, grid) -> None:
    code, out, _ = run(capsys, "runs", "--db", str(db_path), "--group", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4
    by_label = {r["group"]: r for r in rows}
    mates = _mates(grid, 0.02, 400)
    row = by_label[f"g:{mates[0].run_id}"]
    assert row["n"] == 2 and row["run_ids"] == [r.run_id for r in mates]
    assert row["test_acc"]["mean"] == pytest.approx(statistics.mean(r.test_acc for r in mates))
    assert row["test_acc"]["std"] == pytest.approx(statistics.stdev(r.test_acc for r in mates))
    assert row["duration_s"]["mean"] == pytest.approx(statistics.mean(r.seconds for r in mates))
    queued_group = by_label[f"g:{grid[0].run_id}"]
    assert queued_group["n"] == 3 and queued_group["best_val_acc"]["n"] == 2


def test_runs_group_table_says_how_many_have_values(capsys, db_path: Path, grid) -> None:
    code, out, _ = run(capsys, "runs", "--db", str(db_path), "--group", "--sort", "test_acc")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["group", "n", "settings"]
    best = _mates(grid, 0.02, 400)
    mean = statistics.mean(max(r.val_accs) for r in best) * 100
    std = statistics.stdev(max(r.val_accs) for r in best) * 100
    assert lines[1].split()[0] == f"g:{best[0].run_id}"  # highest mean test acc first
    assert f"{mean:.2f} ± {std:.2f}" in lines[1]
    assert "(2 of 3)" in next(line for line in lines if line.startswith(f"g:{grid[0].run_id} "))
    assert "groups 1-4 of 4 (9 runs)" in out


def test_runs_group_honours_filters_and_paging(capsys, db_path: Path, grid) -> None:
    code, out, _ = run(capsys, "runs", "--db", str(db_path), "--group", "--status", "queued",
                       "--json")
    assert code == 0 and [(r["n"], r["best_val_acc"]["mean"]) for r in json.loads(out)] == [
        (1, None)]
    _, out, _ = run(capsys, "runs", "--db", str(db_path), "--group", "--limit", "1",
                    "--offset", "1", "--json")
    assert len(json.loads(out)) == 1


def test_compare_groups_side_by_side(capsys, db_path: Path, grid) -> None:
    a, b = _mates(grid, 0.01, 400), _mates(grid, 0.02, 400)
    code, out, _ = run(capsys, "compare", "--db", str(db_path), f"g:{a[1].run_id}",
                       f"g:{b[0].run_id}", str(grid[0].run_id), "--json")
    data = json.loads(out)
    assert code == 0
    assert [c["label"] for c in data["columns"]] == [f"g:{a[0].run_id}", f"g:{b[0].run_id}",
                                                     f"#{grid[0].run_id}"]
    assert [c["n"] for c in data["columns"]] == [2, 2, 1]
    assert data["columns"][1]["best_val_acc"]["mean"] == pytest.approx(
        statistics.mean(max(r.val_accs) for r in b))
    assert data["columns"][2]["best_val_acc"]["std"] is None  # one run: no spread
    assert set(data["config_diff"]) == {"batch_size", "max_lr", "seed"}
    assert data["config_diff"]["seed"] == [[0, 1], [0, 1], 0]


def test_compare_groups_table_shows_mean_and_std(capsys, db_path: Path, grid) -> None:
    a, b = _mates(grid, 0.01, 400), _mates(grid, 0.02, 200)
    code, out, _ = run(capsys, "compare", "--db", str(db_path), f"g:{a[0].run_id}",
                       f"g:{b[0].run_id}")
    tests = [statistics.mean(r.test_acc for r in g) * 100 for g in (a, b)]
    stds = [statistics.stdev(r.test_acc for r in g) * 100 for g in (a, b)]
    line = next(line for line in out.splitlines() if line.strip().startswith("test acc"))
    assert code == 0
    assert line.split()[2:] == [f"{tests[0]:.2f}", "±", f"{stds[0]:.2f}", f"{tests[1]:.2f}",
                                "±", f"{stds[1]:.2f}"]


@pytest.mark.parametrize(("refs", "said"), [
    (["g:", "3"], "'g:' names no run; write g:ID"),
    (["g:1", "g:2"], "g:2 is the same as g:1"),
    (["g:999", "3"], "no run with id 999"),
])
def test_bad_group_refs_are_one_line_and_exit_2(capsys, db_path: Path, grid, refs,
                                                said) -> None:
    code, out, err = run(capsys, "compare", "--db", str(db_path), *refs)
    assert code == 2 and said in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_plain_run_ids_still_compare_as_before(capsys, db_path: Path, grid) -> None:
    code, out, _ = run(capsys, "compare", "--db", str(db_path), "1", "2", "--json")
    assert code == 0 and json.loads(out)["run_ids"] == [1, 2]
