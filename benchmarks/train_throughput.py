"""Training throughput: the engine against a plain loop written the classic way.

Both sides train the same ResNet9 (same init seed, width, batch size, recipe:
Adam, one-cycle stepped per batch, weight decay 1e-4, clip by value 0.1, crop +
flip) on the same uint8 images for the same number of steps. The engine side is
``engine.train.train`` itself, on a CIFAR-format folder holding exactly those
images and no val/test split, so nothing but training is in its clock. The plain
side is torchvision transforms on PIL images, a DataLoader and OneCycleLR.

    .venv/bin/python benchmarks/train_throughput.py [--images N] [--width-mult W] [--workers K]
"""

from __future__ import annotations

import argparse
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.config import RunConfig  # noqa: E402
from engine.data import MEAN, STD, DataError, DeviceBatches, load_cifar10, synthetic_cifar  # noqa: E402
from engine.events import RunFinished  # noqa: E402
from engine.models import build_model  # noqa: E402
from engine.train import train  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar-10-subset"


def load_images(data_dir: Path, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first n training images as (N,3,32,32) uint8, real if we can, else synthetic."""
    try:
        x, y, *_ = load_cifar10(data_dir)
        source = f"real CIFAR-10 from {data_dir}"
    except DataError as exc:
        x, y, *_ = synthetic_cifar(max(n, 20), 10)
        source = f"synthetic images ({exc})"
    return x[:n], y[:n], source


def write_folder(root: Path, x: np.ndarray, y: np.ndarray) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    with open(folder / "data_batch_1", "wb") as fh:
        pickle.dump({"data": x.reshape(len(x), -1), "labels": y.tolist()}, fh)
    return root


class PilCifar(Dataset):
    """A torchvision-style dataset: one PIL image per item, transformed on access."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform: transforms.Compose):
        self.images = [Image.fromarray(img.transpose(1, 2, 0)) for img in x]
        self.labels = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[i]), self.labels[i]


def classic_transform() -> transforms.Compose:
    return transforms.Compose([
        transforms.RandomCrop(32, padding=4, padding_mode="reflect"),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])


def engine_run(config: RunConfig) -> float:
    """Images/s of the engine's own training loop (its training clock, no evaluation)."""
    final = train(config)
    if not isinstance(final, RunFinished):
        raise SystemExit(f"engine run did not finish: {final}")
    return final.images_per_s


def plain_run(x: np.ndarray, y: np.ndarray, config: RunConfig, workers: int) -> float:
    """Images/s of the classic loop: DataLoader + transforms, Adam, OneCycleLR per batch,
    clip by value."""
    torch.manual_seed(config.seed)
    model = build_model("resnet9", config.width_mult)
    loader = DataLoader(PilCifar(x, y, classic_transform()), batch_size=config.batch_size,
                        shuffle=True, num_workers=workers, persistent_workers=workers > 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.max_lr,
                                 weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.max_lr, epochs=config.epochs, steps_per_epoch=len(loader),
        pct_start=config.pct_start)
    losses = []
    t0 = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_value_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            losses.append(loss.detach())
    seconds = time.perf_counter() - t0
    if not torch.isfinite(torch.stack(losses)).all():
        raise SystemExit("plain run diverged")
    return len(x) * config.epochs / seconds


def augment_engine(x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    batches = DeviceBatches(torch.from_numpy(x), torch.from_numpy(y), batch_size,
                            torch.device("cpu"), augment=True, shuffle=True, seed=0)
    t0 = time.perf_counter()
    n = sum(len(yb) for _, yb in batches)
    return n / (time.perf_counter() - t0)


def augment_plain(x: np.ndarray, y: np.ndarray, batch_size: int, workers: int) -> float:
    loader = DataLoader(PilCifar(x, y, classic_transform()), batch_size=batch_size, shuffle=True,
                        num_workers=workers)
    t0 = time.perf_counter()
    n = sum(len(yb) for _, yb in loader)  # includes worker start-up, as an epoch does
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--images", type=int, default=1024,
                        help="training images per side per repeat")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width-mult", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader workers for the plain side")
    parser.add_argument("--repeats", type=int, default=2,
                        help="alternating engine/plain runs; medians shown")
    parser.add_argument("--augment-images", type=int, default=5000,
                        help="images for the augmentation-only timing")
    args = parser.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    x_all, y_all, source = load_images(args.data_dir, max(args.images, args.augment_images))
    x, y = x_all[: args.images], y_all[: args.images]
    steps = -(-len(x) // args.batch_size) * args.epochs
    print(f"machine: {platform.machine()} {platform.processor() or ''}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, device cpu")
    print(f"data: {source}")
    print(f"model: resnet9 width {args.width_mult:g}; {len(x)} images x {args.epochs} epoch(s), "
          f"batch {args.batch_size} = {steps} steps per side per repeat; "
          f"plain DataLoader workers={args.workers}")

    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(model="resnet9", width_mult=args.width_mult, epochs=args.epochs,
                           batch_size=args.batch_size, max_lr=0.01, weight_decay=1e-4,
                           grad_clip=0.1, grad_clip_mode="value", optimizer="adam", augment=True,
                           val_fraction=0.0, data_dir=str(write_folder(Path(tmp), x, y)),
                           device="cpu", seed=0)
        engine_ips, plain_ips = [], []
        for r in range(args.repeats):
            engine_ips.append(engine_run(config))
            plain_ips.append(plain_run(x, y, config, args.workers))
            print(f"  repeat {r + 1}: engine {engine_ips[-1]:.1f} img/s, "
                  f"plain {plain_ips[-1]:.1f} img/s")
    e, p = statistics.median(engine_ips), statistics.median(plain_ips)
    print(f"training   engine {e:8.1f} img/s   plain {p:8.1f} img/s   engine/plain {e / p:.2f}x")

    xa, ya = x_all[: args.augment_images], y_all[: args.augment_images]
    aug_e = statistics.median(augment_engine(xa, ya, args.batch_size) for _ in range(3))
    aug_p = statistics.median(augment_plain(xa, ya, args.batch_size, args.workers)
                              for _ in range(3))
    print(f"augment    engine {aug_e:8.0f} img/s   plain {aug_p:8.0f} img/s   "
          f"engine/plain {aug_e / aug_p:.1f}x"
          f"   ({len(xa)} images: normalize+crop+flip batches vs transforms+DataLoader)")


if __name__ == "__main__":
    main()
