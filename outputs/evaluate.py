"""Re-score a run's checkpoint on the test split with the engine's own ``evaluate``.

The stored test results (test_acc, per_class_acc, confusion) come from the weights at
the end of training, which are the ones in last.pt (and in best.pt when the last epoch
was the best), evaluated with the run's own ``tta`` setting in batches of
max(batch_size, 512). This module does the same, through the same function, so on the
same kind of device the numbers agree exactly; it also keeps each image's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from engine.config import RunConfig
from engine.data import DataError, DeviceBatches, ensure_cifar10, load_batch, load_splits
from engine.paths import resolve_data_dir
from outputs.predict import EVAL_BATCH, LoadedModel, PredictError

if TYPE_CHECKING:
    from storage import RunDetail


@dataclass
class Evaluation:
    run_id: int
    checkpoint: str
    kind: str
    epoch: int | None
    device: str
    tta: bool
    num_images: int
    loss: float
    accuracy: float
    per_class_acc: list[float]
    confusion: list[list[int]]
    class_names: list[str]
    labels: list[int] = field(repr=False)
    predictions: list[int] = field(repr=False)  # each test image's predicted class, in order
    stored: dict[str, Any] | None = None  # the run's stored results, when comparable
    matches_stored: bool | None = None  # None: this checkpoint is not what they were scored on

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Recorder(nn.Module):
    """Passes the model's outputs through and keeps them, so the engine's ``evaluate``
    scores the test set and the per-image predictions come from that same pass."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.outputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        self.outputs.append(out.detach())
        return out


def load_test_split(config: RunConfig,
                    data_dir: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's test images (uint8) and labels: its synthetic set, or test_batch from
    ``data_dir`` (else the folder the run trained on)."""
    try:
        if config.dataset == "synthetic":
            splits = load_splits(config)  # its test images depend on the run's seed and size
            assert splits.test_x is not None and splits.test_y is not None
            return splits.test_x, splits.test_y
        root = resolve_data_dir(data_dir or config.data_dir)
        test_path = ensure_cifar10(root) / "test_batch"
        if not test_path.is_file():
            raise PredictError(f"no test data: {test_path.parent} has no test_batch; point "
                               "--data-dir at a folder holding the full cifar-10-batches-py")
        x, y = load_batch(test_path)
    except DataError as exc:
        raise PredictError(str(exc)) from None
    return torch.from_numpy(x), torch.from_numpy(y)


def evaluate_run(loaded: LoadedModel, detail: RunDetail,
                 data_dir: str | None = None) -> Evaluation:
    """Score ``loaded`` on the run's test split as the engine scored the run at its end."""
    from engine.train import evaluate

    x, y = load_test_split(loaded.config, data_dir)
    classes = len(loaded.class_names)
    cuda = loaded.device.type == "cuda"
    batches = DeviceBatches(x, y, max(loaded.config.batch_size, EVAL_BATCH), loaded.device,
                            False, False, 0, cuda)
    tta = loaded.config.tta
    recorder = _Recorder(loaded.model)
    loss, acc, confusion = evaluate(recorder, batches, loaded.autocast, tta, classes)
    predictions = _predictions(recorder.outputs, tta)
    labels = y.tolist()
    _check_consistent(predictions, labels, confusion, classes)
    per_class = (confusion.diag().float() / confusion.sum(1).clamp(min=1)).tolist()
    result = Evaluation(
        run_id=loaded.run_id, checkpoint=str(loaded.checkpoint), kind=loaded.kind,
        epoch=loaded.epoch, device=str(loaded.device), tta=tta, num_images=len(labels),
        loss=loss, accuracy=acc, per_class_acc=per_class, confusion=confusion.tolist(),
        class_names=list(loaded.class_names), labels=labels, predictions=predictions)
    _compare_with_stored(result, detail, loaded)
    return result


def _predictions(outputs: list[torch.Tensor], tta: bool) -> list[int]:
    """Each image's class, from the recorded outputs combined as ``evaluate`` combines them
    (with tta: each batch's output, then its flip's, averaged)."""
    if tta:
        outputs = [(a + b) / 2 for a, b in zip(outputs[::2], outputs[1::2], strict=True)]
    if not outputs:
        return []
    return torch.cat([o.float().argmax(1) for o in outputs]).cpu().tolist()


def _check_consistent(predictions: list[int], labels: list[int], confusion: torch.Tensor,
                      classes: int) -> None:
    """The per-image predictions must rebuild the engine's confusion matrix exactly."""
    if len(predictions) != len(labels):
        raise RuntimeError(f"{len(predictions)} predictions for {len(labels)} test images")
    mine = torch.zeros(classes, classes, dtype=torch.long)
    for true, pred in zip(labels, predictions, strict=True):
        mine[true, pred] += 1
    if not torch.equal(mine, confusion):
        raise RuntimeError("per-image predictions disagree with the engine's confusion matrix")


def _compare_with_stored(result: Evaluation, detail: RunDetail, loaded: LoadedModel) -> None:
    """Set ``stored``/``matches_stored`` when the run's stored results were scored on these
    weights: a completed run's final epoch (last.pt, or best.pt saved at that epoch)."""
    if detail.test_acc is None or detail.confusion is None or detail.status != "completed":
        return
    if loaded.epoch is None or loaded.epoch != loaded.config.epochs:
        return
    result.stored = {"test_acc": detail.test_acc, "per_class_acc": detail.per_class_acc,
                     "confusion": detail.confusion, "device": detail.device}
    result.matches_stored = (result.confusion == detail.confusion
                             and result.accuracy == detail.test_acc
                             and result.per_class_acc == detail.per_class_acc)


def checkpoint_label(path: str | Path, epoch: int | None) -> str:
    name = Path(path).name
    return f"{name} (epoch {epoch})" if epoch is not None else name
