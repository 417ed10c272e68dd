"""`cifar-tui report RUN [RUN...] -o FILE`: the runs' plots as PNG, SVG, PDF or HTML."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.common import CliError, db_parent, open_store


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report", parents=[db_parent()],
        help="plots of runs (accuracy, loss, lr; classes for one run) as .png/.svg/.pdf/.html",
        description="Draw val accuracy and loss per epoch and the learning rate per step for "
                    "the runs, overlaid; for a single run also its confusion matrix and "
                    "per-class accuracy. .html is one self-contained page with the results "
                    "and the settings that differ. Needs matplotlib (the `report` extra).")
    p.add_argument("runs", metavar="RUN", nargs="+", help="run ids or names")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the file to write; its extension picks the format "
                        "(.png, .svg, .pdf or .html)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from outputs.report import (
        ReportError,
        check_writable,
        matplotlib_or_error,
        report_format,
        write_report,
    )

    path = Path(args.output).expanduser()
    try:
        # The cheap checks first: a typo in -o is told before the store is opened.
        report_format(path)
        check_writable(path)
        matplotlib_or_error()
        with open_store(args) as store:
            written = write_report(store, args.runs, path)
    except ReportError as exc:
        raise CliError(str(exc)) from None
    print(f"report written to {written}")
    return 0
