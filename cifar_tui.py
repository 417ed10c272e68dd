"""Entry point: `python cifar_tui.py` is the same as the `cifar-tui` console script."""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    """The CLI, guarded even while it imports: ctrl+c or a memory cap during start-up
    is one line too. An interrupted process ends at once, skipping the interpreter's
    teardown, where a half-imported torch's exit hooks would fail with a traceback."""
    try:
        from cli.main import main as cli_main

        code = cli_main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second ctrl+c: nothing more
        print("cifar-tui: interrupted", file=sys.stderr)
        code = 130
    except (ImportError, OSError, MemoryError) as exc:  # the CLI's own modules would not load
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"cifar-tui: error: could not start: {reason}; free some memory or raise the "
              "limit (ulimit -v), or reinstall cifar-tui", file=sys.stderr)
        code = 2
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)


if __name__ == "__main__":
    main()
