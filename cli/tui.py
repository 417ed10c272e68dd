"""Open the TUI (until it exists: the CLI help)."""

from __future__ import annotations

import argparse


def run_tui(args: argparse.Namespace) -> int:
    from cli.main import build_parser

    build_parser().print_help()
    return 0
