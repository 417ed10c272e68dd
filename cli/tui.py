"""Open the TUI; say plainly what is wrong with the store, and what keeps running on quit."""

from __future__ import annotations

import argparse
import sys


def run_tui(args: argparse.Namespace) -> int:
    from storage.errors import StoreError

    try:
        from tui.app import active_counts, make_app

        app = make_app(db_url=getattr(args, "db", None))
    except StoreError as exc:
        print(f"cifar-tui: error: {exc}", file=sys.stderr)
        return 2
    # After the store check (a bad --db is named either way), before any escape code: a
    # pipe or a file would fill with them.
    if not sys.stdout.isatty():
        print("cifar-tui: the TUI needs a terminal; use `cifar-tui runs` to list runs",
              file=sys.stderr)
        return 2
    app.run()
    try:
        counts = active_counts(app.ctx.store)
    except StoreError:
        return 0
    if counts["queued"] or counts["running"]:
        print(f"{counts['running']} running and {counts['queued']} queued run(s) keep going in the "
              "background worker; `cifar-tui` shows them again, "
              "`cifar-tui worker --status` checks it.")
    return 0
