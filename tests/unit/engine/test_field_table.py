"""The field table in engine/config.py: the CLI and the validator are generated from it,
so each covers exactly its fields, and every number has bounds on both sides."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from cli.config_args import add_config_arguments
from cli.main import build_parser, main
from engine.config import FIELDS, RunConfig, parse_field, validate_field

TABLE = set(FIELDS)
NUMBERS = [spec for spec in FIELDS.values() if spec.kind in (int, float)]
CLOSED = [spec for spec in NUMBERS if spec.le is not None]  # with a largest allowed value


def config_dests(parser: argparse.ArgumentParser) -> set[str]:
    return {a.dest for a in parser._actions if a.dest != "help"}


def subcommand(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_the_table_is_exactly_runconfig_s_fields() -> None:
    assert list(FIELDS) == [f.name for f in dataclasses.fields(RunConfig)]
    assert all(FIELDS[f.name].default == f.default for f in dataclasses.fields(RunConfig))


def test_cli_and_validator_cover_exactly_the_table() -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    assert config_dests(parser) == TABLE
    assert TABLE <= config_dests(subcommand("train")) and TABLE <= config_dests(subcommand("queue"))
    # The validator checks a field when it refuses a value of no sensible type for it.
    checked = {name for name in TABLE if validate_field(name, object()) is not None}
    assert checked == TABLE
    for name in TABLE:
        assert set(RunConfig(**{name: object()}).errors()) == {name}


@pytest.mark.parametrize("spec", NUMBERS, ids=[s.name for s in NUMBERS])
def test_every_number_has_a_lower_and_an_upper_bound(spec) -> None:  # noqa: ANN001
    assert (spec.ge is not None) != (spec.gt is not None)
    assert (spec.le is not None) != (spec.lt is not None)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_every_default_is_valid(name: str) -> None:
    assert validate_field(name, FIELDS[name].default) is None


@pytest.mark.parametrize("spec", NUMBERS, ids=[s.name for s in NUMBERS])
def test_a_value_past_the_upper_bound_is_refused_by_the_cli_in_one_line(
        spec, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    top = spec.le if spec.le is not None else spec.lt
    past = str(int(top) * 10 + 1 if spec.kind is int else top * 10)
    code = main(["queue", "--dataset", "synthetic", "--no-worker", spec.flag, past])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("cifar-tui: error: ")
    assert f"({spec.flag})" in err or f"{spec.flag} must" in err


@pytest.mark.parametrize("spec", CLOSED, ids=[s.name for s in CLOSED])
def test_the_cli_queues_each_number_at_its_upper_bound(
        spec, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    text = str(int(spec.le) if spec.kind is int else spec.le)
    code = main(["queue", "--dataset", "synthetic", "--no-worker", "--json", spec.flag, text])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["config"][spec.name] == parse_field(spec.name, text)


def test_export_has_a_column_for_every_field_of_the_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    import csv
    import io

    assert main(["queue", "--dataset", "synthetic", "--no-worker", "--logit-scale", "0.5",
                 "--log-every", "7", "--compile", "--device", "cpu", "--name", "exported"]) == 0
    capsys.readouterr()
    assert main(["export", "--format", "csv"]) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert TABLE <= set(row)
    assert (row["logit_scale"], row["log_every"], row["compile"]) == ("0.5", "7", "True")
    assert row["name"] == "exported" and row["preset"] == "seed"
    assert list(row).index("log_every") < list(row).index("epoch")  # settings, then epochs


def test_a_boolean_field_gets_a_flag_and_its_negation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "--dataset", "synthetic", "--no-worker", "--json", "--optimizer", "sgd",
                 "--no-nesterov"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["nesterov"] is False
