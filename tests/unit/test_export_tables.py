"""`cifar-tui export --format csv|json`: the full config, tags, notes, results and timings
of each run, JSON with each epoch's steps; bad input is one line and exit code 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from support.store import cfg, epoch, finished

from cli.main import main
from engine.config import FIELDS
from engine.events import StepMetrics
from storage import RunStore


def steps(epoch_no: int, numbers: range) -> list[StepMetrics]:
    return [StepMetrics(step=i, epoch=epoch_no, loss=3.0 / i, lr=0.001 * i, images_per_s=900.0,
                        time=1_750_000_000.0 + i) for i in numbers]


@pytest.fixture
def db(db_path: Path) -> str:
    """Run 1: two epochs with steps, finished, tagged and noted. Run 2: still in its second
    epoch (steps logged, no epoch metrics yet)."""
    with RunStore(str(db_path)) as store:
        done = store.create_run(cfg(dataset="synthetic", label_smoothing=0.05), name="done")
        store.claim_next_run("test-worker")
        for n, numbers in ((1, range(1, 4)), (2, range(4, 7))):
            store.append_steps(done, steps(n, numbers))
            store.record_epoch(done, epoch(n, 0.4 + n / 10))
        store.finish_run(done, finished(test_acc=0.81))
        store.add_tag(done, "keeper")
        store.set_note(done, "lr looks, right; \"quoted\"\nsecond line")
        live = store.create_run(cfg(dataset="synthetic", seed=3), name="live")
        store.claim_next_run("test-worker")
        store.append_steps(live, steps(1, range(1, 3)))
        store.record_epoch(live, epoch(1, 0.3))
        store.append_steps(live, steps(2, range(3, 5)))
    return str(db_path)


def export(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["export", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_carries_every_config_field_tags_notes_results_and_timings(
        capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = export(capsys, "done", "--db", db)
    rows = list(csv.DictReader(io.StringIO(out)))
    with RunStore(db) as store:
        run = store.get_run(1)
    assert code == 0 and [r["epoch"] for r in rows] == ["1", "2"]
    row = rows[1]
    assert set(FIELDS) <= set(row)
    assert (row["label_smoothing"], row["dataset"], row["tags"]) == ("0.05", "synthetic", "keeper")
    assert row["notes"] == run.notes  # commas, quotes and a newline survive the CSV
    assert float(row["test_acc"]) == run.test_acc == 0.81
    assert float(row["best_val_acc"]) == run.best_val_acc
    assert float(row["test_loss"]) == run.test_loss
    per_class = dict(zip(run.class_names, run.per_class_acc, strict=True))
    assert {name: float(row[f"test_acc_{name}"]) for name in per_class} == per_class
    assert row["created_at"] == run.created_at.isoformat()
    assert row["started_at"] == run.started_at.isoformat()
    assert row["finished_at"] == run.finished_at.isoformat()
    assert float(row["duration_s"]) == run.duration_s and float(row["images_per_s"]) == 4000.0
    last = run.epoch_rows[1]
    assert (float(row["val_acc"]), float(row["train_loss"])) == (last.val_acc, last.train_loss)
    assert list(row).index("preset") < list(row).index("epoch")  # run columns, then the epoch


def test_json_records_hold_their_epochs_steps_and_an_unfinished_epoch_gets_a_record(
        capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    target = tmp_path / "runs.json"
    code, _, err = export(capsys, "--format", "json", "-o", str(target), "--db", db)
    records = json.loads(target.read_text())
    assert code == 0 and "wrote 4 rows (2 runs)" in err
    assert [(r["name"], r["epoch"]) for r in records] == [
        ("done", 1), ("done", 2), ("live", 1), ("live", 2)]
    assert len({tuple(r) for r in records}) == 1  # the same keys in every record
    with RunStore(db) as store:
        stored = {run_id: store.get_steps(run_id) for run_id in (1, 2)}
    for record in records:
        mine = [s for s in stored[record["run_id"]] if s.epoch == record["epoch"]]
        assert record["steps"] == [{"step": s.step, "loss": s.loss, "lr": s.lr,
                                    "wall_time": s.wall_time} for s in mine]
        assert mine, "every record here has steps"
    unfinished = records[3]
    assert unfinished["val_acc"] is None and unfinished["train_loss"] is None
    assert unfinished["seed"] == 3 and unfinished["status"] == "running"


@pytest.mark.parametrize(("argv", "words"), [
    (["nope"], "no run with id or name 'nope'"),
    (["-o", "{tmp}/a-file/out.csv"], "cannot write"),
    (["--format", "tensorboard"], "add -o DIR"),
    (["--format", "tensorboard", "-o", "{tmp}/a-file/tb"], "cannot write TensorBoard files"),
    (["--with-checkpoints"], "--with-checkpoints is for --format mlflow only"),
    (["--format", "mlflow"], "add --mlflow-uri URI"),
    (["--format", "mlflow", "--mlflow-uri", "x", "-o", "out"], "drop -o"),
])
def test_bad_input_is_one_line_naming_the_fix_and_exit_2(
        capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, argv: list[str], words: str) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "a-file").write_text("a file, not a folder")
    code, out, err = export(capsys, *(a.format(tmp=tmp_path) for a in argv), "--db", db)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("cifar-tui: error: ") and words in err
