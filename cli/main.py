"""Argument parsing and dispatch; no subcommand opens the TUI."""

from __future__ import annotations

import argparse
import sys

from cli.common import CliError, db_parent


class CliParser(argparse.ArgumentParser):
    """Usage mistakes are one line naming the problem and where the help is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"cifar-tui: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from cli import history, train, worker

    parser = CliParser(
        prog="cifar-tui",
        description="Train ResNets on CIFAR-10 and browse every run, from the terminal.",
        parents=[db_parent(top_level=True)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train.register(sub)
    worker.register(sub)
    history.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from cli.tui import run_tui

            return run_tui(args)
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"cifar-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cifar-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cifar-tui runs | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
