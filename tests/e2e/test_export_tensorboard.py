"""`cifar-tui export --format tensorboard`: event files TensorBoard's own reader loads, with
the store's values, wall times and the HParams view's config and results."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from support.store import cfg, epoch, finished

from cli.main import main
from engine.config import RunConfig
from engine.events import StepMetrics
from storage import RunStore


def f32(value: float) -> float:
    """What an event file keeps of a value: scalars are stored as 32-bit floats."""
    return float(np.float32(value))


@pytest.fixture
def db(tmp_path: Path) -> str:
    """One finished run of two epochs with four logged steps, and one still queued."""
    path = str(tmp_path / "runs.db")
    with RunStore(path) as store:
        run_id = store.create_run(cfg(dataset="synthetic", max_lr=0.003, augment=False),
                                  name="tb run")
        store.claim_next_run("test-worker")
        for n in (1, 2):
            store.append_steps(run_id, [
                StepMetrics(step=s, epoch=n, loss=2.5 / s, lr=0.0011 * s, images_per_s=800.0,
                            time=1_760_000_000.25 + 7 * s) for s in (2 * n - 1, 2 * n)])
            store.record_epoch(run_id, epoch(n, 0.33 * n))
        store.finish_run(run_id, finished(test_acc=0.71))
        store.create_run(cfg(dataset="synthetic"), name="queued")
    return path


def accumulator(folder: Path):  # noqa: ANN201  (TensorBoard's own reader)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(folder)).Reload()


def test_event_files_hold_the_stores_epochs_steps_and_hparams(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    out = tmp_path / "tb"
    assert main(["export", "--format", "tensorboard", "-o", str(out), "--db", db]) == 0
    assert "wrote 2 runs" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["1-tb_run", "2-queued"]
    with RunStore(db) as store:
        run, stored_steps = store.get_run(1), store.get_steps(1)
    events = accumulator(out / "1-tb_run")

    for name in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s"):
        got = [(e.step, e.value) for e in events.Scalars(f"epoch/{name}")]
        assert got == [(r.epoch, f32(getattr(r, name))) for r in run.epoch_rows], name
    epoch_times = [e.wall_time for e in events.Scalars("epoch/val_acc")]
    assert epoch_times == [stored_steps[1].wall_time, stored_steps[3].wall_time]  # epoch ends
    loss = events.Scalars("step/loss")
    assert [(e.step, e.value, e.wall_time) for e in loss] == [
        (s.step, f32(s.loss), s.wall_time) for s in stored_steps]
    assert [e.value for e in events.Scalars("step/lr")] == [f32(s.lr) for s in stored_steps]

    assert events.Scalars("final/test_acc")[0].value == f32(run.test_acc)
    assert events.Scalars("final/best_val_acc")[0].value == f32(run.best_val_acc)
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    config = RunConfig.from_dict(run.config)
    assert hparams["max_lr"].number_value == config.max_lr == 0.003
    assert hparams["model"].string_value == config.model
    assert hparams["augment"].string_value == "False"
    metrics = HParamsPluginData.FromString(
        events.PluginTagToContent("hparams")["_hparams_/experiment"]).experiment.metric_infos
    assert {"final/test_acc", "final/test_acc_c0"} <= {m.name.tag for m in metrics}


def test_exporting_again_replaces_a_runs_events_instead_of_adding_to_them(
        db: str, tmp_path: Path) -> None:
    out = tmp_path / "tb"
    for _ in range(2):
        assert main(["export", "1", "--format", "tensorboard", "-o", str(out), "--db", db]) == 0
    assert len(list((out / "1-tb_run").glob("events.out.tfevents.*"))) == 1
    assert len(accumulator(out / "1-tb_run").Scalars("step/loss")) == 4


def test_without_tensorboard_the_error_names_the_export_extra(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` now fails
    code = main(["export", "--format", "tensorboard", "-o", str(tmp_path / "tb"), "--db", db])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "needs tensorboard" in err and "pip install 'cifar-tui[export]'" in err
    assert not (tmp_path / "tb").exists()
