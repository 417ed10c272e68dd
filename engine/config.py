"""Run configuration: the field table, presets and validation.

Pure stdlib so the TUI and the store can import it without pulling in torch.
Each run field is declared once, in ``RunConfig``'s body: its type, default,
bounds, choices, help and form label. Validation, text parsing, the CLI flags,
the form rows and the export columns are all generated from that table, so
the CLI, the form and the worker refuse the same bad values with the same words.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MODELS = ("resnet9", "resnet18", "resnet18-seed")
OPTIMIZERS = ("adam", "sgd")
CLIP_MODES = ("value", "norm")
DATASETS = ("cifar10", "synthetic")
SCHEDULES = ("onecycle", "linear")
# The form shows its rows grouped in this order (preset always first).
SECTIONS = ("run", "model", "training", "data", "system")


class ConfigError(ValueError):
    """A config that must not reach training; ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


@dataclass(frozen=True)
class FieldSpec:
    """How one run field is checked, parsed, offered on the CLI and shown in the form.

    Bounds use pydantic's words: ``ge``/``gt`` below, ``le``/``lt`` above. An ``lt``
    bound marks a fraction-like range, so its message states the range whole.
    """

    help: str
    label: str = ""  # the form's row label; "" -> the name with spaces
    noun: str = ""  # message subject, "learning rate (--max-lr)"; "" -> the flag alone
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] = ()
    off: float | None = None  # this number stands for None ("--grad-clip 0" turns it off)
    rule: Callable[[Any], str | None] | None = None  # a special check (device, preset)
    section: str = "training"
    # Filled from RunConfig's annotation and default by _build_fields:
    name: str = ""
    kind: type = str
    optional: bool = False
    default: Any = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def subject(self) -> str:
        return f"{self.noun} ({self.flag})" if self.noun else self.flag


def setting(default: Any, help: str, **spec: Any) -> Any:  # noqa: A002  (argparse's word)
    """A RunConfig field whose metadata is its row in the field table."""
    return dataclasses.field(default=default, metadata={"spec": FieldSpec(help, **spec)})


def _device_problem(value: Any) -> str | None:
    if isinstance(value, str) and value in ("auto", "cpu", "cuda"):
        return None
    head, _, index = value.partition(":") if isinstance(value, str) else ("", "", "")
    # Four digits is plenty of GPUs and keeps a huge index from reaching torch.
    if head == "cuda" and index.isdigit() and len(index) <= 4:
        return None
    return f"unknown device {_shown(value)}; use auto, cpu, cuda or cuda:N"


def _preset_problem(value: Any) -> str | None:
    if value in PRESETS:
        return None
    return f"unknown preset {_shown(value)}; --preset must be one of: {', '.join(PRESETS)}"


@dataclass
class RunConfig:
    """Everything needed to reproduce one training run; its body is the field table.

    Adding a hyperparameter is one ``setting(...)`` line here plus its use in
    training: the validator, the CLI, the form and the export pick it up.
    """

    model: str = setting("resnet9", "architecture", choices=MODELS, section="model")
    epochs: int = setting(8, "number of epochs", noun="epochs", ge=1, le=10_000)
    batch_size: int = setting(400, "images per batch", noun="batch size", ge=1, le=65_536)
    # Generous on purpose: the failure tests make a run diverge with lr 1e8.
    max_lr: float = setting(0.01, "peak learning rate of the one-cycle schedule", label="max lr",
                            noun="learning rate", gt=0, le=1e9)
    pct_start: float = setting(0.3, "fraction of steps spent warming up (default 0.3)",
                               noun="warm-up fraction", gt=0, lt=1)
    schedule: str = setting("onecycle", "learning-rate schedule", choices=SCHEDULES)
    weight_decay: float = setting(1e-4, "weight decay", noun="weight decay", ge=0, le=1)
    grad_clip: float | None = setting(0.1, "gradient clip (0 turns it off)",
                                      label="grad clip (0=off)", noun="gradient clip",
                                      gt=0, le=1e6, off=0)
    grad_clip_mode: str = setting("value", "what the clip bounds", label="clip mode",
                                  choices=CLIP_MODES)
    optimizer: str = setting("adam", "optimizer (sgd uses --momentum)", choices=OPTIMIZERS)
    momentum: float = setting(0.9, "SGD momentum", noun="momentum", ge=0, lt=1)
    nesterov: bool = setting(True, "Nesterov momentum for sgd (default on)")
    label_smoothing: float = setting(0.0, "label smoothing, 0 to turn off",
                                     noun="label smoothing", ge=0, lt=1)
    width_mult: float = setting(1.0, "channel width multiplier (1.0 = the full model)",
                                label="width", noun="width multiplier", gt=0, le=8, section="model")
    logit_scale: float = setting(1.0, "multiply the model's output (the fast preset uses 0.125)",
                                 noun="logit scale", gt=0, le=1000, section="model")
    dataset: str = setting("cifar10", "training data", choices=DATASETS,
                           section="data")
    data_dir: str | None = setting(
        None, "folder holding cifar-10-batches-py (default: $CIFAR_TUI_DATA, else a cache folder)",
        section="data")
    val_fraction: float = setting(0.1, "share of the training batches held out for validation",
                                  noun="validation fraction", ge=0, lt=1, section="data")
    # Twice CIFAR-10's training split; it also caps the synthetic set's memory.
    limit_train: int | None = setting(None, "train on the first N images of the training split",
                                      ge=1, le=100_000, section="data")
    augment: bool = setting(True, "random crop + flip (default on)", section="data")
    tta: bool = setting(False, "average with the flipped image in eval",
                        label="test-time aug", section="data")
    device: str = setting("auto", "auto, cpu, cuda or cuda:N", rule=_device_problem,
                          section="system")
    # numpy's seeds stop at 2**32 - 1.
    seed: int = setting(0, "random seed (fixes the split, init and augmentation)", noun="seed",
                        ge=0, le=2**32 - 1, section="system")
    compile: bool = setting(False, "torch.compile the model (compile time is reported apart)",
                            section="system")
    log_every: int = setting(10, "steps between loss read-outs", ge=1, le=1_000_000,
                             section="system")
    preset: str | None = setting(None, "starting recipe", rule=_preset_problem, section="run")
    name: str | None = setting(None, "a readable name for the run", section="run")

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


def _build_fields() -> dict[str, FieldSpec]:
    """The table, completed with each field's name, type, default and None-ness."""
    hints = typing.get_type_hints(RunConfig)
    table: dict[str, FieldSpec] = {}
    for f in dataclasses.fields(RunConfig):
        args = typing.get_args(hints[f.name])  # (T, NoneType) for `T | None`, () for `T`
        optional = type(None) in args
        spec: FieldSpec = f.metadata["spec"]
        table[f.name] = dataclasses.replace(
            spec, name=f.name, kind=args[0] if optional else hints[f.name],
            optional=optional, default=f.default, label=spec.label or f.name.replace("_", " "))
    return table


FIELDS: dict[str, FieldSpec] = _build_fields()
FIELD_NAMES = tuple(FIELDS)


# -- validation and parsing, generated from the table -------------------------
def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    # math.isfinite would overflow on a huge int; every int is finite anyway.
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _shown(value: Any) -> str:
    """The refused value, cut short so a pasted 4,000-digit number stays one short line."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit printing limit
        return "a number too long to print"
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


def _need(spec: FieldSpec) -> str:
    """What a good value is, e.g. 'a whole number >= 1' or 'in [0, 1)'."""
    if spec.lt is not None:
        if spec.gt is not None:
            return f"between {_num(spec.gt)} and {_num(spec.lt)}"
        return f"in [{_num(spec.ge or 0)}, {_num(spec.lt)})"
    word = "a whole number" if spec.kind is int else "a number"
    if spec.gt is not None:
        word += f" > {_num(spec.gt)}"
    elif spec.ge is not None:
        word += f" >= {_num(spec.ge)}"
    return word + ("" if spec.off is None else f" (or {_num(spec.off)} to turn it off)")


def _number_problem(spec: FieldSpec, value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):  # inf > 0, so say what is wrong
        return f"{spec.subject} must be a finite number, got {_shown(value)}"
    whole = isinstance(value, int) and not isinstance(value, bool)
    fits = (
        (whole if spec.kind is int else _is_number(value))
        and (spec.ge is None or value >= spec.ge)
        and (spec.gt is None or value > spec.gt)
        and (spec.lt is None or value < spec.lt)
    )
    if not fits:
        return f"{spec.subject} must be {_need(spec)}, got {_shown(value)}"
    if spec.le is not None and value > spec.le:
        return f"{spec.subject} must be at most {_num(spec.le)}, got {_shown(value)}"
    return None


def validate_field(name: str, value: Any) -> str | None:
    """One field's problem as a one-line message, or None when it is fine."""
    spec = FIELDS[name]
    if value is None and spec.optional:
        return None
    if spec.choices:
        if value in spec.choices:
            return None
        noun = spec.noun or name.replace("_", " ")
        allowed = ", ".join(spec.choices)
        return f"unknown {noun} {_shown(value)}; {spec.flag} must be one of: {allowed}"
    if spec.kind in (int, float):
        return _number_problem(spec, value)
    if spec.rule is not None:
        return spec.rule(value)
    if spec.kind is bool and not isinstance(value, bool):
        return f"{spec.subject} must be true or false, got {_shown(value)}"
    if spec.kind is str and not isinstance(value, str):
        return f"{spec.subject} must be text, got {_shown(value)}"
    return None


def parse_field(name: str, text: str) -> Any:
    """Turn form/CLI text into the field's type; raise ValueError with a clear message."""
    spec = FIELDS[name]
    text = text.strip()
    words = name.replace("_", " ")
    if spec.kind is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{words} must be yes or no, got {_shown(text)}")
    if spec.optional and text in ("", "none", "None"):
        return None
    try:
        if spec.kind is int:
            value: Any = int(text)
        elif spec.kind is float:
            value = float(text)
        else:
            return text
    except ValueError:
        word = "a whole number" if spec.kind is int else "a number"
        raise ValueError(f"{words} must be {word}, got {_shown(text)}") from None
    return None if spec.off is not None and value == spec.off else value


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
    # None overrides nothing, except where None is a setting of its own (clipping off).
    base.update({k: v for k, v in overrides.items() if v is not None or FIELDS[k].off is not None})
    return RunConfig(preset=preset, **base)


__all__ = [
    "CLIP_MODES", "DATASETS", "FIELDS", "FIELD_NAMES", "MODELS", "OPTIMIZERS", "PRESETS",
    "SCHEDULES", "SECTIONS", "ConfigError", "FieldSpec", "RunConfig", "config_from_preset",
    "parse_field", "validate_field",
]
