"""Fast path vs the classic loop: seconds per epoch, time to 94%, augmentation throughput.

Runs the engine's ``seed`` and ``fast`` presets through ``engine.train.train`` and the
classic notebook loop (torchvision transforms, DataLoader workers, Adam + OneCycleLR,
clip_grad_value_) on the same ResNet9 and the same training split, then prints the
ratios. Imports only ``engine`` (its torch side), torch, torchvision, numpy, PIL and the
classic baseline's dataset from train_throughput.py, so it runs on a GPU box that has
nothing else installed; see docs/fast.md.

    python benchmarks/gpu.py --data-dir ~/data/cifar10          # real data: also time to 94%
    python benchmarks/gpu.py                                     # synthetic, full size
    python benchmarks/gpu.py --aug-only --device cpu             # augmentation alone
    python benchmarks/gpu.py --device cpu --width-mult 0.125 --max-images 512 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import PilCifar, classic_transform  # noqa: E402  (the shared classic baseline)

from engine.config import RunConfig, config_from_preset  # noqa: E402
from engine.data import (  # noqa: E402
    MEAN,
    STD,
    CifarSplits,
    keep_host_memory_warm,
    load_splits,
    normalize,
    random_crop_flip,
)
from engine.events import EpochMetrics, RunFailed, RunFinished, RunStarted, TrainingEvent  # noqa: E402
from engine.models import build_model  # noqa: E402
from engine.train import pick_device, train  # noqa: E402

TARGET_ACC = 0.94


# -- data ---------------------------------------------------------------------

def write_synthetic_cifar(root: Path, n_train: int, n_test: int, seed: int = 0) -> Path:
    """Class-tinted random uint8 images in the official python format (the engine's loader
    reads them)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    tint = (np.arange(10)[:, None] * np.array([25, 13, 7]) % 128).astype(np.uint8)

    def dump(name: str, n: int) -> None:
        y = rng.integers(0, 10, size=n)
        x = rng.integers(0, 128, size=(n, 3, 32, 32), dtype=np.uint8) + tint[y][:, :, None, None]
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": x.reshape(n, 3072), "labels": y.tolist()}, fh, protocol=4)

    per_file = -(-n_train // 5)
    for i in range(5):
        n = min(per_file, n_train - i * per_file)
        if n > 0:
            dump(f"data_batch_{i + 1}", n)
    dump("test_batch", n_test)
    return root


def plain_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, train: bool, workers: int,
                 pin: bool, persistent: bool = False) -> DataLoader:
    """The classic pipeline: PIL images through torchvision transforms in DataLoader workers."""
    transform = classic_transform() if train else T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    return DataLoader(PilCifar(x.numpy(), y.numpy(), transform), batch_size=batch_size,
                      shuffle=train, num_workers=workers, pin_memory=pin,
                      persistent_workers=persistent and workers > 0)


# -- the classic loop ---------------------------------------------------------

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def _plain_accuracy(model: torch.nn.Module, loader: DataLoader, device: torch.device) -> float:
    model.eval()
    correct = total = 0
    for xb, yb in loader:
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        correct += (model(xb).argmax(1) == yb).sum().item()
        total += len(yb)
    return correct / max(1, total)


def run_plain(config: RunConfig, splits: CifarSplits, device: torch.device,
              workers: int) -> dict[str, Any]:
    """The notebook loop: fp32, NCHW, Adam + OneCycleLR stepped per batch, clip_grad_value_."""
    torch.manual_seed(config.seed)
    pin = device.type == "cuda"
    train_dl = plain_loader(splits.train_x, splits.train_y, config.batch_size, True, workers, pin)
    val_dl = (plain_loader(splits.val_x, splits.val_y, 512, False, workers, pin)
              if len(splits.val_x) else None)
    model = build_model(config.model, config.width_mult,
                        num_classes=len(splits.class_names)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.max_lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.max_lr, epochs=config.epochs,
                                                steps_per_epoch=len(train_dl),
                                                pct_start=config.pct_start)
    epoch_seconds, val_accs = [], []
    for _ in range(config.epochs):
        model.train()
        losses = []
        _sync(device)
        t0 = time.perf_counter()
        for xb, yb in train_dl:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_value_(model.parameters(), config.grad_clip)
            opt.step()
            opt.zero_grad()
            sched.step()
            losses.append(loss.detach())
        torch.stack(losses).mean().item()  # the notebook's epoch-end loss read
        _sync(device)
        epoch_seconds.append(time.perf_counter() - t0)
        val_accs.append(_plain_accuracy(model, val_dl, device) if val_dl is not None else None)
    test_acc = None
    if splits.test_x is not None:
        test_dl = plain_loader(splits.test_x, splits.test_y, 512, False, workers, pin)
        test_acc = _plain_accuracy(model, test_dl, device)
    return {"epoch_seconds": epoch_seconds, "val_acc": val_accs, "test_acc": test_acc,
            "compile_seconds": 0.0, "num_train": len(splits.train_x)}


# -- the engine -----------------------------------------------------------------

def run_engine(config: RunConfig) -> dict[str, Any]:
    """One engine run; per-epoch training seconds exclude evaluation (num_train / images_per_s)."""
    events: list[TrainingEvent] = []
    final = train(config, events.append)
    if isinstance(final, RunFailed):
        raise SystemExit(f"{config.preset}: the engine run failed: "
                         f"{final.reason}\n{final.traceback}")
    started = next(e for e in events if isinstance(e, RunStarted))
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert isinstance(final, RunFinished)
    return {"epoch_seconds": [started.num_train / e.images_per_s for e in epochs],
            "val_acc": [e.val_acc for e in epochs], "test_acc": final.test_acc,
            "compile_seconds": final.compile_seconds, "num_train": started.num_train}


def per_epoch(seconds: list[float]) -> float:
    """Steady-state seconds per epoch: the median after the first (warm-up, autotuning) epoch."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def time_to_target(run: dict[str, Any], target: float) -> float | None:
    """Training seconds accumulated up to the first epoch whose val accuracy reaches the target."""
    total = 0.0
    for seconds, acc in zip(run["epoch_seconds"], run["val_acc"], strict=True):
        total += seconds
        if acc is not None and acc >= target:
            return total
    return None


class BackendFlags:
    """train() sets process-wide flags (TF32, cudnn.benchmark, deterministic mode on CPU);
    put the starting values back so the classic loop runs as a notebook would."""

    def __init__(self) -> None:
        self.saved = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32,
                      torch.backends.cudnn.allow_tf32, torch.are_deterministic_algorithms_enabled(),
                      torch.is_deterministic_algorithms_warn_only_enabled())

    def restore(self) -> None:
        bench, mm_tf32, cudnn_tf32, det, warn_only = self.saved
        torch.backends.cudnn.benchmark = bench
        torch.backends.cuda.matmul.allow_tf32 = mm_tf32
        torch.backends.cudnn.allow_tf32 = cudnn_tf32
        torch.use_deterministic_algorithms(det, warn_only=warn_only)


# -- augmentation alone ---------------------------------------------------------

def bench_augmentation(x: torch.Tensor, y: torch.Tensor, device: torch.device, workers: int,
                       batch_size: int, repeats: int) -> dict[str, Any]:
    """Augmented images/s: engine normalize + random_crop_flip on uint8 tensors vs
    PIL + DataLoader."""
    xd = x.to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    if device.type == "cpu":
        keep_host_memory_warm()  # as DeviceBatches does on the CPU

    def engine_pass() -> None:
        for start in range(0, len(xd), batch_size):
            random_crop_flip(normalize(xd[start:start + batch_size]), gen)
        _sync(device)

    loader = plain_loader(x, y, batch_size, True, workers, device.type == "cuda", persistent=True)

    def plain_pass() -> None:
        for xb, _ in loader:
            xb.to(device, non_blocking=True)
        _sync(device)

    result: dict[str, Any] = {"images": len(x), "batch_size": batch_size, "workers": workers}
    for name, fn in (("engine", engine_pass), ("plain", plain_pass)):
        fn()  # warm-up: worker start-up and first-touch allocation stay out of the figure
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            rates.append(len(x) / (time.perf_counter() - t0))
        result[name] = rates
    result["ratio"] = statistics.median(result["engine"]) / statistics.median(result["plain"])
    return result


# -- host-sync audit (CUDA only) --------------------------------------------------

def count_syncs_per_step(config: RunConfig, steps: tuple[int, int] = (8, 24)) -> float:
    """Synchronising CUDA calls per training step, from two short runs (epoch-end reads
    cancel out)."""
    counts = []
    for n in steps:
        short = config.replace(epochs=1, limit_train=n * config.batch_size, log_every=10_000,
                               compile=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                run_engine(short)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchronizing" in str(w.message) for w in caught))
    return (counts[1] - counts[0]) / (steps[1] - steps[0])


# -- the report -----------------------------------------------------------------

def _fmt_acc(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def print_report(report: dict[str, Any]) -> None:
    print(f"device: {report['device_name']} | torch {report['torch']} | "
          f"torchvision {report['torchvision']}")
    if "training" in report:
        t = report["training"]
        print(f"data: {t['data']} | train images {t['num_train']} | width x{t['width_mult']:g} | "
              f"compile {'on' if t['compile'] else 'off'} | classic loop workers {t['workers']}")
        print(f"{'run':<7}{'epochs':>7}{'1st epoch s':>13}{'s/epoch':>10}{'images/s':>11}"
              f"{'val acc':>9}{'test acc':>10}{'plain/run':>11}{'compile s':>11}")
        for name, r in t["runs"].items():
            ratio = t["ratios"].get(name)
            print(f"{name:<7}{len(r['epoch_seconds']):>7}{r['epoch_seconds'][0]:>13.2f}"
                  f"{r['per_epoch']:>10.2f}"
                  f"{r['num_train'] / r['per_epoch']:>11.0f}{_fmt_acc(r['val_acc'][-1]):>9}"
                  f"{_fmt_acc(r['test_acc']):>10}{'' if ratio is None else f'{ratio:.2f}x':>11}"
                  f"{r['compile_seconds']:>11.1f}")
        if "time_to_94" in t:
            tt = t["time_to_94"]
            print(f"fast: time to {100 * TARGET_ACC:.0f}% val accuracy: "
                  f"{'not reached' if tt is None else f'{tt:.2f} s of training'}"
                  " (compile time apart; val = the held-out val_fraction of the training batches)")
        if "syncs_per_step" in t:
            print(f"host syncs per training step (fast preset): {t['syncs_per_step']:.2f} (want 0)")
    if "augmentation" in report:
        a = report["augmentation"]
        for name in ("engine", "plain"):
            rates = ", ".join(f"{r:,.0f}" for r in a[name])
            print(f"augmentation {name:<6}: {statistics.median(a[name]):>11,.0f} images/s  "
                  f"(runs: {rates})")
        print(f"augmentation engine/plain: {a['ratio']:.1f}x  ({a['images']} images, "
              f"batch {a['batch_size']}, {a['workers']} DataLoader workers, target >= 10x)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir",
                   help="real CIFAR-10 (a folder holding cifar-10-batches-py); else synthetic")
    p.add_argument("--epochs", type=int, help="epochs for every run (default: each preset's own)")
    p.add_argument("--presets", default="seed,fast",
                   help="engine presets to time (comma-separated)")
    p.add_argument("--no-plain", action="store_true", help="skip the classic loop")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the engine runs (time reported apart)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--width-mult", type=float, default=1.0)
    p.add_argument("--max-images", type=int,
                   help="cap the training images (and synthetic test images)")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                   help="DataLoader workers for the classic loop")
    p.add_argument("--aug-only", action="store_true", help="only the augmentation throughput")
    p.add_argument("--aug", action="store_true", help="also time the augmentation throughput")
    p.add_argument("--aug-images", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3,
                   help="timed passes for the augmentation figure")
    p.add_argument("--sync-check", action="store_true",
                   help="count host syncs per step (CUDA only)")
    p.add_argument("--threads", type=int,
                   help="torch intra-op threads in this process (CPU figures)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)

    report: dict[str, Any] = {
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else f"{platform.machine()} CPU, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads",
        "torch": torch.__version__, "torchvision": torchvision.__version__,
    }
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as tmp:
        if args.data_dir:
            data_dir, data = args.data_dir, "CIFAR-10"
        else:
            cap = args.max_images or (args.aug_images if args.aug_only else None)
            # full size is 50,000 + 10,000; a cap is on the training split: write a val share more
            n_train = 50_000 if cap is None else min(50_000, -(-cap * 10 // 9) + 1)
            n_test = 10_000 if cap is None else min(10_000, max(100, n_train // 5))
            data_dir = str(write_synthetic_cifar(Path(tmp), n_train, n_test))
            data = f"synthetic ({n_train} images + {n_test} test)"
        base = dict(data_dir=data_dir, dataset="cifar10", device=args.device,
                    width_mult=args.width_mult, limit_train=args.max_images,
                    compile=args.compile, log_every=50)
        seed_config = config_from_preset("seed", **base, epochs=args.epochs)
        splits = load_splits(seed_config)
        if args.aug or args.aug_only:
            n = min(args.aug_images, len(splits.train_x))
            report["augmentation"] = bench_augmentation(splits.train_x[:n], splits.train_y[:n],
                                                        device, args.workers, 512, args.repeats)
        if not args.aug_only:
            flags = BackendFlags()
            runs: dict[str, dict[str, Any]] = {}
            if not args.no_plain:
                runs["plain"] = run_plain(seed_config, splits, device, args.workers)
            for preset in [p for p in args.presets.split(",") if p]:
                runs[preset] = run_engine(config_from_preset(preset, **base, epochs=args.epochs))
                flags.restore()
            for r in runs.values():
                r["per_epoch"] = per_epoch(r["epoch_seconds"])
            plain = runs.get("plain")
            report["training"] = {
                "data": data, "num_train": len(splits.train_x), "width_mult": args.width_mult,
                "compile": args.compile, "workers": args.workers, "runs": runs,
                "ratios": {k: plain["per_epoch"] / r["per_epoch"] for k, r in runs.items()
                           if plain is not None and k != "plain"},
            }
            if args.data_dir and "fast" in runs:
                report["training"]["time_to_94"] = time_to_target(runs["fast"], TARGET_ACC)
            if args.sync_check and device.type == "cuda":
                report["training"]["syncs_per_step"] = count_syncs_per_step(
                    config_from_preset("fast", **{**base, "limit_train": None}))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return report


if __name__ == "__main__":
    main()
