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
        help="SQLAlchemy URL or SQLite file of the run store "
             "(default: $CIFAR_TUI_DB, else the user data folder)",
    )
    return parent


def add_retries_argument(parser: argparse.ArgumentParser) -> None:
    """``--retries N`` (default 1) for `queue` and `train`."""
    from cli.arg_types import int_between
    from storage.leases import DEFAULT_RETRIES, MAX_RETRIES

    parser.add_argument(
        "--retries", type=int_between(0, MAX_RETRIES), default=DEFAULT_RETRIES, metavar="N",
        help="if the run is interrupted (its worker or process dies or is stopped), requeue "
             "it up to N times to resume from its last checkpoint "
             f"(default {DEFAULT_RETRIES}, 0 to {MAX_RETRIES}; 0: never)")


def resume_from(store: Any, run_id: int) -> tuple[str | None, str]:
    """The checkpoint `resume` requeues the run with, and how to say it: as the TUI decides
    (tui/control.py), naming the host that will resume it when only that host's disk
    holds the checkpoint."""
    from tui.control import pinned_note, resume_source

    source = resume_source(store.get_run(run_id))
    how = (f"from {source.checkpoint}" if source.checkpoint
           else "from the start (no checkpoint)")
    if source.held_by:
        how += f"; {pinned_note(source.held_by)}"
    return source.checkpoint, how


@contextmanager
def open_store(args: argparse.Namespace) -> Iterator[Any]:
    """The store for args.db, closed on the way out. Its errors are ``StoreError``s with
    one-line messages; ``cli.main`` prints them, so nothing is caught here.

    Every command first sweeps for runs whose process is gone, so none stays "running"
    (and `resume`, `cancel` or `rm` of one just works); each is told on stderr."""
    from storage import RunStore

    store = RunStore(getattr(args, "db", None))
    try:
        for lost in store.reap_lost_runs():
            print(f"cifar-tui: {lost.message}", file=sys.stderr)
        yield store
    finally:
        store.close()


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
