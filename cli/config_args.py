"""The training flags shared by `train` and `queue`, generated from the field table.

Both commands build the config here, so a bad value is refused the same way
whether it would train now or wait in the queue.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cli.common import CliError
from engine.config import FIELDS, PRESETS, ConfigError, FieldSpec, RunConfig, config_from_preset
from engine.paths import data_folder_problem, pinned_data_dir

# Every table field is a flag; these are named apart because the CLI treats them apart.
OVERRIDES = tuple(name for name in FIELDS if name != "preset")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field of the table: --preset first, then the overrides."""
    parser.add_argument("--preset", default="seed", metavar="NAME",
                        help=f"starting recipe: {', '.join(PRESETS)} (default seed)")
    group = parser.add_argument_group("overrides (each defaults to the preset's value)")
    for name in OVERRIDES:
        spec = FIELDS[name]
        text = f"{spec.help} ({', '.join(spec.choices)})" if spec.choices else spec.help
        if spec.kind is bool:
            group.add_argument(spec.flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
            continue
        metavar = {int: "N", float: "F"}.get(spec.kind, name.split("_")[-1].upper())
        group.add_argument(spec.flag, dest=name, type=_typed(spec), default=None,
                           metavar=metavar, help=text)


def _typed(spec: FieldSpec) -> Callable[[str], object]:
    """argparse's type: a number's text to the number (bounds are the validator's job)."""
    def convert(text: str) -> object:
        try:
            return spec.kind(text)
        except ValueError:  # also Python's 4,300-digit limit on int()
            word = "a whole number" if spec.kind is int else "a number"
            shown = text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"
            raise argparse.ArgumentTypeError(f"{spec.flag} must be {word}, got {shown!r}") from None

    convert.__name__ = spec.kind.__name__
    return convert


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The preset with the given overrides, validated; a bad value raises CliError."""
    overrides = {name: getattr(args, name) for name in OVERRIDES}
    for name, value in list(overrides.items()):
        spec = FIELDS[name]
        if value is None:
            del overrides[name]
        elif spec.off is not None and value == spec.off:
            overrides[name] = None  # e.g. --grad-clip 0: clipping off
    try:
        config = config_from_preset(args.preset, **overrides)
        config.validate()
    except ConfigError as exc:
        raise CliError(next(iter(exc.errors.values()))) from None
    check_data_folder(config)
    return config.replace(data_dir=pinned_data_dir(config.dataset, config.data_dir))


def check_data_folder(config: RunConfig) -> None:
    """Refuse data that cannot be found, before any work starts (no torch needed)."""
    problem = data_folder_problem(config.dataset, config.data_dir)
    if problem:
        raise CliError(problem)
