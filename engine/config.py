"""Run configuration, presets and validation.

Pure stdlib so the TUI and the store can import it without pulling in torch.
Validation lives here, once, so the CLI, the form and the worker refuse the
same bad values with the same words.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

MODELS = ("resnet9", "resnet18", "resnet18-seed")
OPTIMIZERS = ("adam", "sgd")
CLIP_MODES = ("value", "norm")
DATASETS = ("cifar10", "synthetic")
SCHEDULES = ("onecycle", "linear")


class ConfigError(ValueError):
    """A config that must not reach training; ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


@dataclass
class RunConfig:
    """Everything needed to reproduce one training run."""

    model: str = "resnet9"
    epochs: int = 8
    batch_size: int = 400
    max_lr: float = 0.01
    pct_start: float = 0.3
    schedule: str = "onecycle"
    weight_decay: float = 1e-4
    grad_clip: float | None = 0.1
    grad_clip_mode: str = "value"
    optimizer: str = "adam"
    momentum: float = 0.9
    label_smoothing: float = 0.0
    width_mult: float = 1.0
    logit_scale: float = 1.0
    dataset: str = "cifar10"
    data_dir: str | None = None
    val_fraction: float = 0.1
    limit_train: int | None = None
    augment: bool = True
    tta: bool = False
    device: str = "auto"
    seed: int = 0
    compile: bool = False
    log_every: int = 10
    preset: str | None = None
    name: str | None = None

    # -- (de)serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a stored dict, ignoring keys this version does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    # -- validation --------------------------------------------------------
    def errors(self) -> dict[str, str]:
        """Every problem, keyed by field, each saying what is wrong and the fix."""
        return {
            name: msg
            for name in FIELD_NAMES
            if (msg := validate_field(name, getattr(self, name))) is not None
        }

    def validate(self) -> RunConfig:
        errs = self.errors()
        if errs:
            raise ConfigError(errs)
        return self


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(RunConfig))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_field(name: str, value: Any) -> str | None:
    """One field's problem as a one-line message, or None when it is fine."""
    positive_float = {
        "max_lr": "learning rate (--max-lr)",
        "width_mult": "width multiplier (--width-mult)",
        "logit_scale": "logit scale (--logit-scale)",
    }
    if name in positive_float:
        if not _is_number(value) or value <= 0:
            return f"{positive_float[name]} must be a number > 0, got {value!r}"
        if name == "width_mult" and value > 8:
            return f"width multiplier (--width-mult) must be at most 8, got {value!r}"
        return None
    if name == "epochs":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"epochs (--epochs) must be a whole number >= 1, got {value!r}"
        return None
    if name == "batch_size":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"batch size (--batch-size) must be a whole number >= 1, got {value!r}"
        return None
    if name == "weight_decay":
        if not _is_number(value) or value < 0:
            return f"weight decay (--weight-decay) must be a number >= 0, got {value!r}"
        return None
    if name == "grad_clip":
        if value is not None and (not _is_number(value) or value <= 0):
            return f"gradient clip (--grad-clip) must be > 0 (or 0 to turn it off), got {value!r}"
        return None
    if name == "pct_start":
        if not _is_number(value) or not 0 < value < 1:
            return f"warm-up fraction (--pct-start) must be between 0 and 1, got {value!r}"
        return None
    if name == "momentum":
        if not _is_number(value) or not 0 <= value < 1:
            return f"momentum (--momentum) must be in [0, 1), got {value!r}"
        return None
    if name == "label_smoothing":
        if not _is_number(value) or not 0 <= value < 1:
            return f"label smoothing (--label-smoothing) must be in [0, 1), got {value!r}"
        return None
    if name == "val_fraction":
        if not _is_number(value) or not 0 <= value < 1:
            return f"validation fraction (--val-fraction) must be in [0, 1), got {value!r}"
        return None
    if name == "limit_train":
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            return f"--limit-train must be a whole number >= 1, got {value!r}"
        return None
    if name == "log_every":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"--log-every must be a whole number >= 1, got {value!r}"
        return None
    if name == "seed":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"seed (--seed) must be a whole number >= 0, got {value!r}"
        return None
    choices = {
        "model": MODELS,
        "optimizer": OPTIMIZERS,
        "grad_clip_mode": CLIP_MODES,
        "dataset": DATASETS,
        "schedule": SCHEDULES,
    }
    if name in choices:
        if value not in choices[name]:
            flag = name.replace("_", "-")
            return f"unknown {name.replace('_', ' ')} {value!r}; --{flag} must be one of: {', '.join(choices[name])}"
        return None
    if name == "device":
        if not isinstance(value, str) or not _valid_device(value):
            return f"unknown device {value!r}; use auto, cpu, cuda or cuda:N"
        return None
    if name == "preset":
        if value is not None and value not in PRESETS:
            return f"unknown preset {value!r}; --preset must be one of: {', '.join(PRESETS)}"
        return None
    return None


def _valid_device(value: str) -> bool:
    if value in ("auto", "cpu", "cuda"):
        return True
    head, _, index = value.partition(":")
    return head == "cuda" and index.isdigit()


def parse_field(name: str, text: str) -> Any:
    """Turn form/CLI text into the field's type; raise ValueError with a clear message."""
    text = text.strip()
    kind = FIELD_TYPES.get(name, str)
    if kind is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name.replace('_', ' ')} must be yes or no, got {text!r}")
    optional = name in ("grad_clip", "limit_train", "data_dir", "name", "preset")
    if optional and text in ("", "none", "None"):
        return None
    if name == "grad_clip" and text in ("0", "0.0"):
        return None
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name.replace('_', ' ')} must be a whole number, got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name.replace('_', ' ')} must be a number, got {text!r}") from None
    return text


FIELD_TYPES: dict[str, type] = {
    "epochs": int,
    "batch_size": int,
    "limit_train": int,
    "seed": int,
    "log_every": int,
    "max_lr": float,
    "pct_start": float,
    "weight_decay": float,
    "grad_clip": float,
    "momentum": float,
    "label_smoothing": float,
    "width_mult": float,
    "logit_scale": float,
    "val_fraction": float,
    "augment": bool,
    "tta": bool,
    "compile": bool,
}


# -- presets ------------------------------------------------------------------
# `seed`: the classic CIFAR-10 ResNet9 notebook recipe (~90% val on the full set).
# `fast`: the on-device fast path aimed at 94%; see docs/fast.md for each part's reason.
PRESETS: dict[str, dict[str, Any]] = {
    "seed": dict(
        model="resnet9", optimizer="adam", batch_size=400, epochs=8, max_lr=0.01,
        weight_decay=1e-4, grad_clip=0.1, grad_clip_mode="value", augment=True,
    ),
    "resnet18": dict(
        model="resnet18", optimizer="adam", batch_size=400, epochs=8, max_lr=0.01,
        weight_decay=1e-4, grad_clip=0.1, grad_clip_mode="value", augment=True,
    ),
    "fast": dict(
        model="resnet9", optimizer="sgd", momentum=0.9, batch_size=512, epochs=10,
        max_lr=0.4, pct_start=0.25, schedule="onecycle", weight_decay=5e-4,
        grad_clip=None, label_smoothing=0.2, augment=True, tta=True, logit_scale=0.125,
    ),
}


def config_from_preset(preset: str | None = "seed", **overrides: Any) -> RunConfig:
    """A preset's config with any field overridden; unknown presets raise ConfigError."""
    base: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError({"preset": validate_field("preset", preset) or ""})
        base = dict(PRESETS[preset])
    unknown = set(overrides) - set(FIELD_NAMES)
    if unknown:
        raise ConfigError({k: f"unknown setting {k!r}" for k in sorted(unknown)})
    base.update({k: v for k, v in overrides.items() if v is not None or k == "grad_clip"})
    return RunConfig(preset=preset, **base)


def describe(config: RunConfig) -> str:
    """A short human label: model, width, epochs, lr, dataset."""
    width = "" if config.width_mult == 1.0 else f" x{config.width_mult:g}"
    data = " [synthetic]" if config.dataset == "synthetic" else ""
    return f"{config.model}{width} {config.epochs}ep lr={config.max_lr:g} bs={config.batch_size}{data}"


# Key hyperparameters stored as real columns for sorting and filtering.
KEY_FIELDS = ("model", "epochs", "batch_size", "max_lr", "weight_decay", "grad_clip", "optimizer", "width_mult")

__all__ = [
    "ConfigError", "RunConfig", "PRESETS", "MODELS", "OPTIMIZERS", "KEY_FIELDS",
    "config_from_preset", "validate_field", "parse_field", "describe", "field",
]
