"""The training flags shared by `train` and `queue`, and their validation.

Both commands build the config here, so a bad value is refused the same way
whether it would train now or wait in the queue.
"""

from __future__ import annotations

import argparse

from cli.common import CliError
from engine.config import MODELS, OPTIMIZERS, PRESETS, ConfigError, RunConfig, config_from_preset
from engine.paths import data_folder_problem

_FLAGS = [
    # (flag, dest, type, help)
    ("--model", "model", str, f"architecture: {', '.join(MODELS)}"),
    ("--epochs", "epochs", int, "number of epochs"),
    ("--batch-size", "batch_size", int, "images per batch"),
    ("--max-lr", "max_lr", float, "peak learning rate of the one-cycle schedule"),
    ("--pct-start", "pct_start", float, "fraction of steps spent warming up (default 0.3)"),
    ("--schedule", "schedule", str, "onecycle or linear"),
    ("--weight-decay", "weight_decay", float, "weight decay"),
    ("--grad-clip", "grad_clip", float, "gradient clip (0 turns it off)"),
    ("--grad-clip-mode", "grad_clip_mode", str, "clip by value (default) or norm"),
    ("--optimizer", "optimizer", str, f"{' or '.join(OPTIMIZERS)} (sgd uses Nesterov momentum)"),
    ("--momentum", "momentum", float, "SGD momentum"),
    ("--label-smoothing", "label_smoothing", float, "label smoothing, 0 to turn off"),
    ("--width-mult", "width_mult", float, "channel width multiplier (1.0 = the full model)"),
    ("--logit-scale", "logit_scale", float, "multiply the model's output (the fast preset uses 0.125)"),
    ("--dataset", "dataset", str, "cifar10 (default) or synthetic"),
    ("--data-dir", "data_dir", str, "folder holding cifar-10-batches-py (default: $CIFAR_TUI_DATA, else a cache folder)"),
    ("--val-fraction", "val_fraction", float, "share of the training batches held out for validation"),
    ("--limit-train", "limit_train", int, "train on the first N images of the training split"),
    ("--device", "device", str, "auto, cpu, cuda or cuda:N"),
    ("--seed", "seed", int, "random seed (fixes the split, init and augmentation)"),
    ("--log-every", "log_every", int, "steps between loss read-outs"),
    ("--name", "name", str, "a readable name for the run"),
]


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="seed", metavar="NAME", help=f"starting recipe: {', '.join(PRESETS)} (default seed)")
    group = parser.add_argument_group("overrides (each defaults to the preset's value)")
    for flag, dest, kind, text in _FLAGS:
        metavar = {int: "N", float: "F"}.get(kind, dest.split("_")[-1].upper())
        group.add_argument(flag, dest=dest, type=_typed(kind, flag), default=None, metavar=metavar, help=text)
    group.add_argument("--augment", dest="augment", action=argparse.BooleanOptionalAction, default=None,
                       help="random crop + flip (default on)")
    group.add_argument("--tta", dest="tta", action=argparse.BooleanOptionalAction, default=None,
                       help="average with the flipped image at evaluation")
    group.add_argument("--compile", dest="compile", action=argparse.BooleanOptionalAction, default=None,
                       help="torch.compile the model (compile time is reported apart)")


def _typed(kind: type, flag: str):
    def convert(text: str):
        try:
            return kind(text)
        except ValueError:
            word = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{flag} must be {word}, got {text!r}") from None

    convert.__name__ = kind.__name__
    return convert


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The preset with the given overrides, validated; a bad value raises CliError."""
    overrides = {dest: getattr(args, dest) for _, dest, _, _ in _FLAGS}
    for dest in ("augment", "tta", "compile"):
        overrides[dest] = getattr(args, dest)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides.get("grad_clip") == 0:
        overrides["grad_clip"] = None
    try:
        config = config_from_preset(args.preset, **overrides)
        config.validate()
    except ConfigError as exc:
        raise CliError(next(iter(exc.errors.values()))) from None
    check_data_folder(config)
    return config


def check_data_folder(config: RunConfig) -> None:
    """Refuse data that cannot be found, before any work starts (no torch needed)."""
    problem = data_folder_problem(config.dataset, config.data_dir)
    if problem:
        raise CliError(problem)
