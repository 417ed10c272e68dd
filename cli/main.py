"""Argument parsing and dispatch; no subcommand opens the TUI.

This is the CLI's one error boundary: a ``CliError`` or ``StoreError`` is printed as
one line with exit code 2, and anything unexpected as one line naming the file that
holds its traceback. The user never sees a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys

from cli.common import CliError, db_parent
from storage.errors import StoreError


class CliParser(argparse.ArgumentParser):
    """Usage mistakes are one line naming the problem and where the help is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"cifar-tui: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from cli import export, history, predict, report, serve, settings, slurm, store, train, worker

    parser = CliParser(
        prog="cifar-tui",
        description="Train ResNets on CIFAR-10 and browse every run, from the terminal.",
        parents=[db_parent(top_level=True)],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train.register(sub)
    worker.register(sub)
    from cli import sweep

    sweep.register(sub)
    history.register(sub)
    export.register(sub)
    store.register(sub)
    settings.register(sub)
    serve.register(sub)
    slurm.register(sub)
    predict.register(sub)
    report.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from cli.tui import run_tui

            return run_tui(args)
        return int(args.func(args) or 0)
    except (CliError, StoreError) as exc:
        print(f"cifar-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupted()
    except MemoryError:  # before the run's own handling (a run's OOM ends it as failed)
        print("cifar-tui: error: out of memory; free some memory or raise the limit "
              "(ulimit -v), or lower --batch-size or --width-mult", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `cifar-tui runs | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line here, the traceback in a file
        print(unexpected_error_line(exc, args.command or "tui"), file=sys.stderr)
        return 1


def interrupted() -> int:
    """Ctrl+C: one line and 130. A second ctrl+c is ignored from here on, or it would raise
    inside the clean-up (or a half-imported torch) and print a page of traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("cifar-tui: interrupted", file=sys.stderr)
    return 130


def unexpected_error_line(exc: BaseException, command: str) -> str:
    from engine.formatting import first_line

    try:
        from worker.launcher import save_traceback
    except ImportError:  # a broken install: the one line must still come out
        path = None
    else:
        path = save_traceback(exc, f"crash-{command}")
    where = f"the traceback is in {path}" if path else "the traceback could not be saved"
    return (f"cifar-tui: error: unexpected {type(exc).__name__}: {first_line(str(exc), 300)} "
            f"(a bug; {where})")
