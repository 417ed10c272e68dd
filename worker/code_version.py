"""Which code trained a run: the git commit of this checkout, and whether it was edited."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
DIRTY_SUFFIX = "+dirty"


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or not a checkout (an installed wheel): nothing to record
    return out.stdout.strip()


@lru_cache(maxsize=8)
def code_version(root: Path = CHECKOUT) -> str | None:
    """'<sha>' for a clean tree, '<sha>+dirty' when tracked files differ from it, else None."""
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return None
    changes = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit + DIRTY_SUFFIX if changes else commit
