"""`cifar-tui` with its output piped: one line on stderr and exit 2, no escape codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_tui_with_piped_stdout_says_a_terminal_is_needed(tmp_path: Path) -> None:
    env = {**os.environ, "CIFAR_TUI_HOME": str(tmp_path), "CIFAR_TUI_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "cifar_tui", "--db", f"sqlite:///{tmp_path / 'runs.db'}"],
        stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=60, check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == b""  # nothing, least of all escape codes, reaches the pipe
    assert proc.stderr.decode().strip() == (
        "cifar-tui: the TUI needs a terminal; use `cifar-tui runs` to list runs")
