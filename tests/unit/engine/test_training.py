"""The training loop end to end on tiny written CIFAR files: learning, events,
determinism, checkpoints, resume, cancellation and divergence."""

from __future__ import annotations

import math
import pickle
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from support.data import write_cifar_folder

import engine.train as engine_train
from engine.checkpoint import model_from_checkpoint
from engine.config import RunConfig
from engine.data import DeviceBatches, load_splits
from engine.events import (
    CheckpointSaved,
    EpochMetrics,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StepMetrics,
)
from engine.models import build_model
from engine.schedule import linear_factor, one_cycle
from engine.train import build_optimizer, evaluate, train

EPOCHS = 5


def learning_config(data_dir: Path, **changes: object) -> RunConfig:
    """Learns the separable task reliably in about half a second on a CPU."""
    base = dict(model="resnet9", width_mult=0.125, epochs=EPOCHS, batch_size=32, max_lr=0.01,
                augment=False, val_fraction=0.2, log_every=2, data_dir=str(data_dir))
    return RunConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 train images (160 train / 40 val) and 100 test images of ten separable colours."""
    return write_cifar_folder(tmp_path_factory.mktemp("data"), n_train_per_batch=100, n_batches=2,
                              n_test=100)


@pytest.fixture(scope="module")
def run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunConfig, list, Path]:
    """One full run, shared by the tests that only read its events and checkpoints."""
    config = learning_config(data_dir)
    ckpt_dir = tmp_path_factory.mktemp("ckpt")
    events: list = []
    final = train(config, events.append, checkpoint_dir=ckpt_dir)
    assert events[-1] is final
    return config, events, ckpt_dir


def of(kind: type, events: list) -> list:
    return [e for e in events if isinstance(e, kind)]


def record_lrs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The lr of every optimizer step, read by a step pre-hook as the optimizer takes the step.

    Independent of what the engine reports, so a schedule stepped at the wrong
    time (or twice, or not at all) shows up here.
    """
    ran: list[float] = []
    real_build = engine_train.build_optimizer

    def build(*args: object, **kwargs: object) -> torch.optim.Optimizer:
        optimizer = real_build(*args, **kwargs)
        optimizer.register_step_pre_hook(lambda opt, a, k: ran.append(opt.param_groups[0]["lr"]))
        return optimizer

    monkeypatch.setattr(engine_train, "build_optimizer", build)
    return ran


def scheduled_lrs(config: RunConfig, total_steps: int) -> list[float]:
    """The lr of each step (0-based) from engine.schedule's pure functions."""
    if config.schedule == "linear":
        return [config.max_lr * linear_factor(k, total_steps, config.pct_start)
                for k in range(total_steps)]
    return [one_cycle(k, total_steps, config.max_lr, config.pct_start) for k in range(total_steps)]


def test_tiny_run_learns_separable_classes_well_above_chance(run) -> None:
    _, events, _ = run
    epochs = of(EpochMetrics, events)
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss
    final = events[-1]
    assert isinstance(final, RunFinished)
    assert final.final_val_acc >= 0.6 and final.best_val_acc >= final.final_val_acc
    assert final.test_acc >= 0.6  # chance is 0.1
    assert final.test_loss < math.log(10)


def test_events_come_in_order_with_one_epoch_metrics_per_epoch(run) -> None:
    config, events, _ = run
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert not of(RunFailed, events) and not of(RunCancelled, events)
    started = events[0]
    assert (started.num_train, started.num_val, started.num_test) == (160, 40, 100)
    assert started.steps_per_epoch == 5 and started.total_steps == 5 * EPOCHS
    assert started.config == config.to_dict()
    assert started.device == "cpu" and started.dataset_note == ""
    assert [e.epoch for e in of(EpochMetrics, events)] == list(range(1, EPOCHS + 1))
    assert [e.step for e in of(EpochMetrics, events)] == [5 * k for k in range(1, EPOCHS + 1)]
    # StepMetrics come between RunStarted and the first EpochMetrics.
    first_epoch = events.index(of(EpochMetrics, events)[0])
    assert any(isinstance(e, StepMetrics) for e in events[1:first_epoch])


def test_step_metrics_are_bounded_to_one_per_log_every_steps(run) -> None:
    _, events, _ = run
    steps = of(StepMetrics, events)
    # 5 steps per epoch, log_every 2: read-outs after steps 2, 4 and the epoch's last step 5.
    assert len(steps) == 3 * EPOCHS
    assert [s.step for s in steps[:3]] == [2, 4, 5]
    assert all(math.isfinite(s.loss) and s.lr > 0 and s.images_per_s > 0 for s in steps)


@pytest.mark.parametrize(("optimizer", "schedule"), [("adam", "onecycle"), ("sgd", "linear")])
def test_every_step_runs_at_the_scheduled_lr_and_read_outs_report_it(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch, optimizer: str, schedule: str) -> None:
    ran = record_lrs(monkeypatch)
    config = learning_config(data_dir, epochs=2, optimizer=optimizer, schedule=schedule,
                             pct_start=0.25)
    events: list = []
    assert isinstance(train(config, events.append), RunFinished)
    expected = scheduled_lrs(config, 5 * config.epochs)
    assert len(set(expected)) > 5, "a flat schedule would prove nothing"
    assert ran == pytest.approx(expected, rel=1e-9)
    # A read-out reports the lr its window's last step ran at (steps 2, 4, 5, 7, 9, 10).
    steps = of(StepMetrics, events)
    assert [s.lr for s in steps] == [ran[s.step - 1] for s in steps]


def test_epoch_metrics_carry_every_number_the_issue_asks_for(run) -> None:
    _, events, _ = run
    for e in of(EpochMetrics, events):
        assert 0 <= e.train_acc <= 1 and 0 <= e.val_acc <= 1
        assert e.train_loss > 0 and e.val_loss > 0 and e.lr > 0
        assert e.seconds > 0 and e.images_per_s > 0


def test_run_finished_has_per_class_accuracy_and_a_confusion_matrix_over_the_test_set(run) -> None:
    _, events, _ = run
    final = events[-1]
    confusion = torch.tensor(final.confusion)
    assert confusion.shape == (10, 10)
    assert confusion.sum().item() == 100
    assert confusion.diag().sum().item() / 100 == pytest.approx(final.test_acc)
    assert len(final.per_class_acc) == 10 and all(0 <= a <= 1 for a in final.per_class_acc)
    per_class = confusion.diag().float() / confusion.sum(1).clamp(min=1)
    assert final.per_class_acc == pytest.approx(per_class.tolist())
    assert final.class_names[:2] == ["airplane", "automobile"]
    assert final.train_seconds > 0 and final.images_per_s > 0


def test_every_event_is_picklable_and_holds_no_tensors(run) -> None:
    _, events, _ = run
    for event in events:
        assert pickle.loads(pickle.dumps(event)) == event
        assert not any(isinstance(getattr(event, f.name), torch.Tensor) for f in fields(event))


def test_same_seed_on_cpu_gives_identical_losses(data_dir: Path, run) -> None:
    config, events, _ = run
    again: list = []
    train(config, again.append)
    assert [s.loss for s in of(StepMetrics, again)] == [s.loss for s in of(StepMetrics, events)]
    assert again[-1].confusion == events[-1].confusion
    other: list = []
    train(config.replace(seed=1, epochs=1), other.append)
    assert [s.loss for s in of(StepMetrics, other)] != [s.loss for s in of(StepMetrics, events)][:3]


def test_checkpoints_load_with_plain_torch_load_and_hold_weights_and_config(run) -> None:
    config, events, ckpt_dir = run
    final = events[-1]
    assert final.checkpoint_last == str(ckpt_dir / "last.pt")
    assert final.checkpoint_best == str(ckpt_dir / "best.pt")
    last = torch.load(ckpt_dir / "last.pt", weights_only=True)
    best = torch.load(ckpt_dir / "best.pt", weights_only=True)
    assert last["config"] == config.to_dict() and best["config"] == config.to_dict()
    assert last["epoch"] == EPOCHS and last["val_acc"] == pytest.approx(final.final_val_acc)
    assert best["val_acc"] == pytest.approx(final.best_val_acc)
    assert set(last["state_dict"]) == set(build_model("resnet9", 0.125).state_dict())
    saved = of(CheckpointSaved, events)
    assert [c.epoch for c in saved if c.kind == "last"] == list(range(1, EPOCHS + 1))
    assert not list(ckpt_dir.glob("*.tmp"))


def test_model_from_checkpoint_reproduces_the_reported_test_results(run, data_dir: Path) -> None:
    config, events, ckpt_dir = run
    model, loaded = model_from_checkpoint(ckpt_dir / "last.pt")
    assert loaded == config
    splits = load_splits(config)
    test = DeviceBatches(splits.test_x, splits.test_y, 512, torch.device("cpu"), False, False, 0)
    loss, acc, confusion = evaluate(model, test, lambda: torch.autocast("cpu", enabled=False))
    assert acc == pytest.approx(events[-1].test_acc)
    assert confusion.tolist() == events[-1].confusion
    again, _ = model_from_checkpoint(ckpt_dir / "last.pt")
    x = next(iter(test))[0][:4]
    with torch.no_grad():
        assert torch.equal(model.eval()(x), again.eval()(x))


def test_cancel_after_an_epoch_then_resume_finishes_on_the_same_schedule(
        run, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, uninterrupted, _ = run
    first: list = []

    def stop_after_two_epochs() -> bool:
        return any(isinstance(e, EpochMetrics) and e.epoch == 2 for e in first)

    cancelled = train(config, first.append, checkpoint_dir=tmp_path,
                      should_stop=stop_after_two_epochs)
    assert isinstance(cancelled, RunCancelled) and cancelled.epoch == 2 and cancelled.step == 10
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 2

    second: list = []
    ran = record_lrs(monkeypatch)
    final = train(config, second.append, checkpoint_dir=tmp_path,
                  resume_from=tmp_path / "last.pt")
    assert isinstance(final, RunFinished)
    assert second[0].start_epoch == 2
    # Epochs 1-2 are replayed from the checkpoint's history as they were; 3-5 are trained anew.
    assert [e.epoch for e in of(EpochMetrics, second)] == list(range(1, EPOCHS + 1))
    assert of(EpochMetrics, second)[:2] == of(EpochMetrics, first)
    new_steps = [s for s in of(StepMetrics, second) if s.step > 10]
    assert [s.step for s in new_steps] == [12, 14, 15, 17, 19, 20, 22, 24, 25]
    assert [c.epoch for c in of(CheckpointSaved, second) if c.kind == "last"] == [3, 4, 5]
    # The per-batch schedule was fast-forwarded: steps 11-25 run at the schedule's lr for them,
    # as the uninterrupted run's did.
    schedule = scheduled_lrs(config, 5 * EPOCHS)
    assert ran == pytest.approx(schedule[10:], rel=1e-9)
    assert [s.lr for s in new_steps] == pytest.approx([schedule[s.step - 1] for s in new_steps])
    expected_lr = {s.step: s.lr for s in of(StepMetrics, uninterrupted)}
    assert [s.lr for s in new_steps] == pytest.approx([expected_lr[s.step] for s in new_steps])
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == EPOCHS
    assert final.checkpoint_best is not None and final.test_acc is not None


def diverging_config(data_dir: Path, **changes: object) -> RunConfig:
    """Plain SGD at an absurd peak lr with no clipping: the loss turns NaN within a few steps."""
    return learning_config(data_dir, **{"optimizer": "sgd", "max_lr": 1e6, "grad_clip": None,
                                        "epochs": 3, **changes})


def test_nan_loss_ends_the_run_as_failed_with_step_and_lr(data_dir: Path) -> None:
    events: list = []
    final = train(diverging_config(data_dir), events.append)
    assert isinstance(final, RunFailed) and events[-1] is final
    assert not of(RunFinished, events)
    assert final.reason.startswith("diverged at step ")
    assert "lr=" in final.reason and "\n" not in final.reason


def test_failed_run_records_the_step_it_diverged_at(data_dir: Path) -> None:
    final = train(diverging_config(data_dir))
    assert isinstance(final, RunFailed)
    step = int(final.reason.removeprefix("diverged at step ").split()[0])
    assert final.step == step


def test_divergence_message_gives_the_lr_of_the_step_that_diverged(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One loss read-out per epoch (5 steps), and a NaN that first shows early in a read-out
    # window, while the one-cycle lr is still falling fast, so the step's lr and the window's
    # last lr differ.
    ran = record_lrs(monkeypatch)
    config = diverging_config(data_dir, max_lr=1e4, log_every=5)
    final = train(config)
    assert isinstance(final, RunFailed)
    step = int(final.reason.removeprefix("diverged at step ").split()[0])
    assert step % 5 != 0, "diverged on a window's last step: this config no longer tests anything"
    reported = float(final.reason.split("lr=")[1].split(")")[0])
    # The message rounds to 3 significant figures.
    scheduled = one_cycle(step - 1, 5 * config.epochs, config.max_lr, config.pct_start)
    assert ran[step - 1] == pytest.approx(scheduled, rel=1e-9)
    assert reported == pytest.approx(scheduled, rel=1e-2)
    window_end = -(-step // 5) * 5
    assert reported != pytest.approx(ran[window_end - 1], rel=1e-2), "the window's last lr"


def test_invalid_config_ends_as_failed_run_not_an_exception(data_dir: Path) -> None:
    final = train(learning_config(data_dir, max_lr=0.0))
    assert isinstance(final, RunFailed) and "learning rate (--max-lr)" in final.reason


def test_unavailable_cuda_request_fails_with_a_clear_reason(data_dir: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    final = train(learning_config(data_dir, device="cuda"))
    assert isinstance(final, RunFailed)
    assert "asked for CUDA but none is available" in final.reason


@pytest.mark.parametrize("nesterov", [True, False])
def test_the_nesterov_setting_reaches_the_sgd_optimizer(nesterov: bool) -> None:
    config = RunConfig(optimizer="sgd", nesterov=nesterov, width_mult=0.125)
    model = build_model(config.model, width=config.width_mult)
    optimizer = build_optimizer(model, config, torch.device("cpu"))
    assert optimizer.param_groups[0]["nesterov"] is nesterov
