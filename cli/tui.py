"""Open the TUI; say plainly what is wrong with the store, and what keeps running on quit."""

from __future__ import annotations

import argparse
import sys


def run_tui(args: argparse.Namespace) -> int:
    from storage.errors import StoreError

    try:
        from tui.app import make_app

        app = make_app(db_url=getattr(args, "db", None))
    except StoreError as exc:
        print(f"cifar-tui: error: {exc}", file=sys.stderr)
        return 2
    # The store opens in a thread while the TUI draws. In a pipe, wait for it, so a bad
    # --db is named before the terminal message, and no escape code is written.
    if not sys.stdout.isatty():
        app.ctx.slot.wait()
        if isinstance(app.ctx.slot.error, StoreError):
            print(f"cifar-tui: error: {app.ctx.slot.error}", file=sys.stderr)
            return 2
        print("cifar-tui: the TUI needs a terminal; use `cifar-tui runs` to list runs",
              file=sys.stderr)
        return 2
    app.run()
    if isinstance(app.ctx.slot.error, StoreError):  # the app quit at once: said after
        print(f"cifar-tui: error: {app.ctx.slot.error}", file=sys.stderr)
        return 2
    from storage.records import RunFilter

    try:  # said on quit: what the worker keeps doing
        counts = {s: app.ctx.store.count_runs(RunFilter(status=s)) for s in ("queued", "running")}
    except StoreError:
        return 0
    if counts["queued"] or counts["running"]:
        print(f"{counts['running']} running and {counts['queued']} queued run(s) keep going in the "
              "background worker; `cifar-tui` shows them again, "
              "`cifar-tui worker --status` checks it.")
    return 0
