"""The engine's loop takes the same step as a hand-written plain step, and `fast` trains
end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision.transforms as T
from PIL import Image
from support.data import write_cifar_folder

import engine.train as engine_train
from engine.checkpoint import load_checkpoint
from engine.config import config_from_preset
from engine.data import MEAN, STD, load_splits
from engine.events import EpochMetrics, RunFinished
from engine.models import build_model
from engine.train import train


@pytest.mark.parametrize("preset", ["seed", "fast"])
def test_one_engine_step_matches_a_hand_written_plain_step(preset: str, tmp_path: Path) -> None:
    data = write_cifar_folder(tmp_path / "data", n_train_per_batch=32, n_batches=2,
                              with_test=False)
    config = config_from_preset(
        preset, dataset="cifar10", data_dir=str(data), width_mult=0.125, epochs=1, batch_size=64,
        val_fraction=0.0, augment=False, tta=False, device="cpu", seed=3,
        schedule="linear",  # the linear schedule's first step is at max_lr
    )
    final = train(config, checkpoint_dir=tmp_path / "ckpt")
    assert isinstance(final, RunFinished)
    engine_state = load_checkpoint(tmp_path / "ckpt" / "last.pt")["state_dict"]

    # The plain step: per-image ToTensor + Normalize, the optimizer and schedule written by hand.
    splits = load_splits(config)
    order = torch.randperm(len(splits.train_x),
                           generator=torch.Generator().manual_seed(config.seed))
    to_input = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    xb = torch.stack([to_input(Image.fromarray(img.permute(1, 2, 0).numpy()))
                      for img in splits.train_x[order]])
    yb = splits.train_y[order]
    torch.manual_seed(config.seed)
    model = build_model("resnet9", 0.125, logit_scale=config.logit_scale).train()
    params = list(model.parameters())
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=config.max_lr, momentum=config.momentum, nesterov=True,
                              weight_decay=config.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=config.max_lr, weight_decay=config.weight_decay)
    loss = torch.nn.functional.cross_entropy(model(xb), yb, label_smoothing=config.label_smoothing)
    loss.backward()
    if config.grad_clip is not None:
        torch.nn.utils.clip_grad_value_(params, config.grad_clip)
    opt.step()

    plain_state = model.state_dict()
    assert engine_state.keys() == plain_state.keys()
    torch.manual_seed(config.seed)
    start = build_model("resnet9", 0.125).state_dict()
    # Compare the updates, not the weights: a step is small next to the weights themselves.
    for key, value in plain_state.items():
        if value.is_floating_point():
            plain_move, engine_move = value - start[key], engine_state[key] - start[key]
            assert plain_move.abs().max() > 1e-4, f"{key} barely moved: proves nothing"
            assert torch.allclose(engine_move, plain_move, rtol=1e-3, atol=1e-6), key
        else:
            assert torch.equal(engine_state[key], value), key


def test_fast_preset_trains_a_tiny_model_end_to_end_with_flip_tta(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_cifar_folder(tmp_path / "data", n_train_per_batch=100, n_batches=2, n_test=60)
    tta_flags: list[bool] = []
    real_evaluate = engine_train.evaluate

    def spy(model, batches, autocast, tta=False, num_classes=10):
        tta_flags.append(tta)
        return real_evaluate(model, batches, autocast, tta, num_classes)

    monkeypatch.setattr(engine_train, "evaluate", spy)
    config = config_from_preset("fast", dataset="cifar10", data_dir=str(data), width_mult=0.125,
                                epochs=5, batch_size=32, device="cpu")
    assert config.tta and config.optimizer == "sgd" and config.label_smoothing > 0
    events: list = []
    final = train(config, events.append)
    assert isinstance(final, RunFinished), final
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert [e.epoch for e in epochs] == [1, 2, 3, 4, 5]
    assert all(e.val_acc is not None for e in epochs)
    assert final.test_acc is not None and final.confusion is not None
    assert sum(map(sum, final.confusion)) == 60
    assert tta_flags == [True] * 6  # five val evaluations and the test one, each with the flip
    assert epochs[-1].train_loss < epochs[0].train_loss  # separable colours: it learns
    assert final.test_acc > 0.6, "the fast recipe must learn, not collapse (unscaled logits: 0.3)"
