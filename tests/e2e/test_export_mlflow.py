"""`cifar-tui export --format mlflow`: MLflow runs read back with MlflowClient from an SQLite
tracking store; a second export updates the runs it made instead of adding new ones."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from support.store import cfg, epoch, finished

from cli.main import main
from engine.config import RunConfig
from engine.events import StepMetrics
from storage import RunStore

REPO = Path(__file__).resolve().parents[2]


def steps(epoch_no: int, numbers: range) -> list[StepMetrics]:
    return [StepMetrics(step=s, epoch=epoch_no, loss=4.0 / s, lr=0.002 * s, images_per_s=700.0,
                        time=1_770_000_000.5 + 3 * s) for s in numbers]


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Run 1 finished (two epochs, steps, a checkpoint, a tag and a note); run 2 in its
    first epoch, steps logged."""
    import torch

    path = str(tmp_path / "runs.db")
    with RunStore(path) as store:
        done = store.create_run(cfg(dataset="synthetic", max_lr=0.004), name="done")
        store.claim_next_run("test-worker")
        for n in (1, 2):
            store.append_steps(done, steps(n, range(2 * n - 1, 2 * n + 1)))
            store.record_epoch(done, epoch(n, 0.3 * n))
        best = tmp_path / "best.pt"
        torch.save({"config": RunConfig().to_dict(), "weights": torch.arange(4.0)}, best)
        store.set_checkpoint(done, "best", str(best))
        store.finish_run(done, finished(test_acc=0.66))
        store.add_tag(done, "keeper")
        store.set_note(done, "the one to beat")
        live = store.create_run(cfg(dataset="synthetic"), name="live")
        store.claim_next_run("test-worker")
        store.append_steps(live, steps(1, range(1, 3)))
    return path


def mlflow_runs(uri: str) -> dict[str, object]:
    """The experiment's runs by name, read back with MLflow's own client."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name != "Default"]
    return {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def history(uri: str, run: object, key: str) -> list[tuple[int, float, int]]:
    from mlflow.tracking import MlflowClient

    metrics = MlflowClient(tracking_uri=uri).get_metric_history(run.info.run_id, key)
    return sorted((m.step, m.value, m.timestamp) for m in metrics)


def test_runs_arrive_with_params_metrics_tags_notes_and_checkpoint_and_quietly(
        db: str, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run(  # a real process: its terminal output is what a user sees
        [sys.executable, str(REPO / "cifar_tui.py"), "export", "--format", "mlflow",
         "--mlflow-uri", uri, "--with-checkpoints", "--experiment", "cifar", "--db", db],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # MLflow's INFO lines (database creation, migrations) and warnings stay off the terminal.
    assert done.stderr == "MLflow experiment 'cifar': 2 created, 0 updated, 0 unchanged\n"
    runs = mlflow_runs(uri)
    with RunStore(db) as store:
        run, stored_steps = store.get_run(1), store.get_steps(1)
    first = runs["done"]
    assert first.info.status == "FINISHED" and runs["live"].info.status == "RUNNING"
    assert first.data.params == {k: str(v) for k, v in RunConfig.from_dict(run.config)
                                 .to_dict().items()}
    assert first.data.params["max_lr"] == "0.004"
    assert history(uri, first, "step/loss") == [
        (s.step, s.loss, round(s.wall_time * 1000)) for s in stored_steps]
    assert [(st, v) for st, v, _ in history(uri, first, "epoch/val_acc")] == [
        (e.epoch, e.val_acc) for e in run.epoch_rows]
    assert first.data.metrics["final/test_acc"] == run.test_acc == 0.66
    tags = first.data.tags
    assert tags["mlflow.note.content"] == "the one to beat" and tags["keeper"] == "true"
    assert (tags["cifar_tui.run_id"], tags["cifar_tui.store_id"]) == ("1", _store_id(db))
    assert first.info.end_time == round(run.finished_at.timestamp() * 1000)
    [artifact] = _artifacts(uri, first, "checkpoints")
    assert Path(artifact).read_bytes() == Path(run.checkpoints["best"]).read_bytes()


def export_once(db: str, tmp_path: Path,
                capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    """Export the store to a fresh MLflow store; its URI, and the command to run again."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["export", "--format", "mlflow", "--mlflow-uri", uri, "--db", db]
    assert main(argv) == 0
    capsys.readouterr()
    return uri, argv

def test_a_second_export_updates_its_runs_and_a_third_changes_nothing(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri, argv = export_once(db, tmp_path, capsys)
    with RunStore(db) as store:
        store.record_epoch(2, epoch(1, 0.5))  # the live run goes on, and ends
        store.append_steps(2, steps(2, range(3, 5)))
        store.finish_run(2, finished(test_acc=0.5))
        store.remove_tag(1, "keeper")
        store.set_note(1, "")
        stored_steps = store.get_steps(2)
    assert main(argv) == 0
    assert capsys.readouterr().err.endswith(": 0 created, 2 updated, 0 unchanged\n")
    runs = mlflow_runs(uri)
    assert sorted(runs) == ["done", "live"]  # found again by their tags, not duplicated
    live = runs["live"]
    assert live.info.status == "FINISHED" and live.data.metrics["final/test_acc"] == 0.5
    assert history(uri, live, "step/loss") == [  # each step once
        (s.step, s.loss, round(s.wall_time * 1000)) for s in stored_steps]
    assert not {"keeper", "mlflow.note.content"} & set(runs["done"].data.tags)
    assert main(argv) == 0
    assert capsys.readouterr().err.endswith(": 0 created, 0 updated, 2 unchanged\n")


def test_steps_rewritten_by_a_resume_replace_the_mlflow_run_instead_of_mixing_in(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri, argv = export_once(db, tmp_path, capsys)
    first_id = mlflow_runs(uri)["live"].info.run_id
    with RunStore(db) as store:
        # The live run resumed from a checkpoint taken before its first step: it replays
        # steps 1-2 with other losses, then goes on.
        replayed = [dataclasses.replace(s, loss=s.loss + 1.0) for s in steps(1, range(1, 4))]
        store.append_steps(2, replayed)
        stored_steps = store.get_steps(2)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "run 2: epochs or steps exported before were rewritten since" in err
    assert err.endswith(": 0 created, 1 updated, 1 unchanged\n")
    runs = mlflow_runs(uri)
    assert sorted(runs) == ["done", "live"] and runs["live"].info.run_id != first_id
    assert history(uri, runs["live"], "step/loss") == [  # the store's values, each step once
        (s.step, s.loss, round(s.wall_time * 1000)) for s in stored_steps]
    assert main(argv) == 0
    assert capsys.readouterr().err.endswith(": 0 created, 0 updated, 2 unchanged\n")


@pytest.mark.parametrize(("uri", "words"), [
    ("nosuch://tracking", "cannot use MLflow at 'nosuch://tracking'"),
    ("sqlite:///{tmp}/not-a-db.txt", "file is not a database"),
])
def test_a_bad_uri_is_one_line_and_exit_2(db: str, tmp_path: Path, uri: str, words: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "not-a-db.txt").write_text("plain text")
    code = main(["export", "--format", "mlflow", "--mlflow-uri", uri.format(tmp=tmp_path),
                 "--db", db])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err and "--mlflow-uri" in err


def test_without_mlflow_the_error_names_the_export_extra(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails
    code = main(["export", "--format", "mlflow", "--mlflow-uri",
                 f"sqlite:///{tmp_path / 'mlflow.db'}", "--db", db])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "needs mlflow" in err and "pip install 'cifar-tui[export]'" in err


def _store_id(db: str) -> str:
    with RunStore(db) as store:
        return store.store_id


def _artifacts(uri: str, run: object, folder: str) -> list[str]:
    """Local copies of the run's artifacts under ``folder``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    local = client.download_artifacts(run.info.run_id, folder)
    return [str(p) for p in Path(local).iterdir()]
