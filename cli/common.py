"""Pieces every subcommand shares: the error type, --db and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class CliError(Exception):
    """A one-line problem for the user; the CLI prints it and exits with code 2."""


def db_parent(top_level: bool = False) -> argparse.ArgumentParser:
    """A parent parser adding ``--db URL`` (default: env CIFAR_TUI_DB, else the user data folder).

    argparse copies a subparser's defaults over the top-level value, so on a
    subcommand the default is 'absent' and a --db given before it stands.
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db", metavar="URL", default=None if top_level else argparse.SUPPRESS,
        help="SQLAlchemy URL or SQLite file of the run store (default: $CIFAR_TUI_DB, else the user data folder)",
    )
    return parent


@contextmanager
def open_store(args: argparse.Namespace) -> Iterator[Any]:
    """The store for args.db, with every store error turned into a one-line CliError."""
    from storage import RunStore, StoreError

    try:
        store = RunStore(getattr(args, "db", None))
    except StoreError as exc:
        raise CliError(str(exc)) from None
    try:
        yield store
    except StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
