"""The training flags shared by `train` and `queue`, generated from the field table.

Both commands build the config here, so a bad value is refused the same way
whether it would train now or wait in the queue.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

from cli.common import CliError
from engine.config import (
    FIELDS,
    PRESETS,
    ConfigError,
    FieldSpec,
    RunConfig,
    config_from_preset,
    parse_field,
)
from engine.paths import data_folder_problem, pinned_data_dir
from engine.sweep_spec import SweepSpec

# Every table field is a flag; these are named apart because the CLI treats them apart.
OVERRIDES = tuple(name for name in FIELDS if name != "preset")


def add_config_arguments(parser: argparse.ArgumentParser, lists: bool = False) -> None:
    """One flag per field of the table: --preset first, then the overrides.

    With ``lists`` (queue, sweep) a flag's text is kept raw, so ``0.005,0.01`` (a list) or
    ``1e-3:1e-1:log`` (a range) reach ``engine.sweep_spec``; without (train) such text is
    refused, since train trains one config."""
    parser.add_argument("--preset", default=None if lists else "seed", metavar="NAME",
                        help=f"starting recipe: {', '.join(PRESETS)} (default seed)")
    title = "overrides (each defaults to the preset's value"
    title += "; a number takes a list a,b,c or a range low:high[:log])" if lists else ")"
    group = parser.add_argument_group(title)
    for name in OVERRIDES:
        spec = FIELDS[name]
        text = f"{spec.help} ({', '.join(spec.choices)})" if spec.choices else spec.help
        if spec.kind is bool and lists:  # --augment, --no-augment, or both: true,false
            group.add_argument(spec.flag, dest=name, nargs="?", const="true", default=None,
                               metavar="true,false", help=f"{text}; --no-{spec.flag[2:]} "
                               "turns it off, true,false queues both")
            group.add_argument(f"--no-{spec.flag[2:]}", dest=name, action="store_const",
                               const="false", help=argparse.SUPPRESS)
            continue
        if spec.kind is bool:
            group.add_argument(spec.flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
            continue
        metavar = {int: "N", float: "F"}.get(spec.kind, name.split("_")[-1].upper())
        group.add_argument(spec.flag, dest=name, type=str if lists else _typed(spec),
                           default=None, metavar=metavar, help=text)


def _typed(spec: FieldSpec) -> Callable[[str], object]:
    """argparse's type: a number's text to the number (bounds are the validator's job)."""
    def convert(text: str) -> object:
        if "," in text or ":" in text:
            raise argparse.ArgumentTypeError(_one_config_only(spec, text))
        try:
            return spec.kind(text)
        except ValueError:  # also Python's 4,300-digit limit on int()
            word = "a whole number" if spec.kind is int else "a number"
            shown = text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"
            raise argparse.ArgumentTypeError(f"{spec.flag} must be {word}, got {shown!r}") from None

    convert.__name__ = spec.kind.__name__
    return convert


def _one_config_only(spec: FieldSpec, text: str) -> str:
    return (f"{spec.flag} {text[:40]!r} is a list or range, but train trains one config; "
            "use `cifar-tui queue` (lists make a grid) or `cifar-tui sweep` (lists and ranges)")


def config_texts(args: argparse.Namespace) -> dict[str, str]:
    """The config flags given, as raw text by field (booleans as true/false); the run
    name is left out (a sweep's --name names the sweep)."""
    texts: dict[str, str] = {}
    for name in OVERRIDES:
        value = getattr(args, name)
        if value is None or name == "name":
            continue
        texts[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return texts


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The preset with the given overrides, validated; a bad value raises CliError."""
    overrides = {name: getattr(args, name) for name in OVERRIDES}
    for name, value in list(overrides.items()):
        spec = FIELDS[name]
        if isinstance(value, str) and (spec.kind in (int, float, bool) or spec.choices):
            overrides[name] = value = _one_value(spec, value)  # raw text (queue)
        if value is None:
            del overrides[name]
        elif spec.off is not None and value == spec.off:
            overrides[name] = None  # e.g. --grad-clip 0: clipping off
    try:
        config = config_from_preset(args.preset or "seed", **overrides)
        config.validate()
    except ConfigError as exc:
        raise CliError(next(iter(exc.errors.values()))) from None
    check_data_folder(config)
    return config.replace(data_dir=pinned_data_dir(config.dataset, config.data_dir))


def _one_value(spec: FieldSpec, text: str) -> object:
    """A raw flag known to hold one value, typed as train's flags are."""
    if "," in text or ":" in text:
        raise CliError(_one_config_only(spec, text))
    if spec.choices:
        return text
    if spec.kind is bool:  # true/false, yes/no or on/off, as the form and sweep files
        try:
            return parse_field(spec.name, text)
        except ValueError:
            raise CliError(f"{spec.flag} must be yes or no, got {text[:40]!r}") from None
    try:
        return _typed(spec)(text)
    except argparse.ArgumentTypeError as exc:
        raise CliError(str(exc)) from None


def pin_data_dir(spec: SweepSpec) -> SweepSpec:
    """The sweep's data folder, checked for each dataset it uses and pinned in ``fixed``
    as `config_from_args` pins a run's: the detached worker must not guess it."""
    data_dir = spec.fixed.get("data_dir")
    datasets = spec.values.get("dataset") or (
        spec.fixed.get("dataset", config_from_preset(spec.preset).dataset),)
    for dataset in datasets:
        problem = data_folder_problem(dataset, data_dir)
        if problem:
            raise CliError(problem)
    pinned = pinned_data_dir("cifar10" if "cifar10" in datasets else datasets[0], data_dir)
    if pinned is None:
        return spec
    fixed = {**spec.fixed, "data_dir": pinned}
    return dataclasses.replace(spec, fixed={k: fixed[k] for k in FIELDS if k in fixed})


def check_data_folder(config: RunConfig) -> None:
    """Refuse data that cannot be found, before any work starts (no torch needed)."""
    problem = data_folder_problem(config.dataset, config.data_dir)
    if problem:
        raise CliError(problem)
