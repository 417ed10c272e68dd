"""Where data and the app folder live. No torch, so the CLI and TUI can check paths cheaply."""

from __future__ import annotations

import os
from pathlib import Path


def _platform_dir(kind: str) -> Path:
    """platformdirs' folder when it is installed; a plain ~/.cache or ~/.local/share otherwise
    (benchmarks/gpu.py runs the engine on machines with torch and little else)."""
    try:
        import platformdirs
    except ImportError:
        base = Path.home() / (".cache" if kind == "cache" else ".local/share")
        return base / APP_NAME
    return Path(platformdirs.user_cache_dir(APP_NAME) if kind == "cache"
                else platformdirs.user_data_dir(APP_NAME))

APP_NAME = "cifar-tui"
BATCHES_DIRNAME = "cifar-10-batches-py"
DATA_ENV = "CIFAR_TUI_DATA"
OFFLINE_ENV = "CIFAR_TUI_OFFLINE"  # set to 1 to never try a download (the tests do)
HOME_ENV = "CIFAR_TUI_HOME"  # overrides the data folder for checkpoints, logs and locks


def host_name() -> str:
    """This host's name in run records and worker ids. CIFAR_TUI_HOST overrides it, so
    tests (and containers sharing a hostname) can stand for separate hosts."""
    import socket

    return os.environ.get("CIFAR_TUI_HOST") or socket.gethostname()


def default_data_dir() -> Path:
    return _platform_dir("cache") / "data"


def app_home() -> Path:
    """The one app folder (default store, checkpoints, worker logs, locks):
    $CIFAR_TUI_HOME, else the user data folder."""
    chosen = os.environ.get(HOME_ENV)
    return Path(chosen).expanduser() if chosen else _platform_dir("data")


def unrecorded_checkpoint_dir() -> Path:
    """Where `train --no-store` puts best.pt and last.pt. A recorded run's files go
    under its store's artifact root instead (``RunStore.run_dir``)."""
    return app_home() / "checkpoints" / "foreground"


def resolve_data_dir(data_dir: str | None) -> Path:
    """--data-dir, else $CIFAR_TUI_DATA, else the user cache folder."""
    chosen = data_dir or os.environ.get(DATA_ENV)
    return Path(chosen).expanduser() if chosen else default_data_dir()


def find_batches_dir(root: Path) -> Path | None:
    """The folder holding data_batch_* files: root/cifar-10-batches-py or root itself."""
    for candidate in (root / BATCHES_DIRNAME, root):
        if candidate.is_dir() and any(candidate.glob("data_batch_*")):
            return candidate
    return None


def downloads_allowed() -> bool:
    return os.environ.get(OFFLINE_ENV) != "1"


def data_folder_problem(dataset: str, data_dir: str | None) -> str | None:
    """Why the config's data cannot be found, as a one-line message with the fix, or None."""
    if dataset != "cifar10":
        return None
    root = resolve_data_dir(data_dir)
    fix = (f"pass --data-dir pointing at a folder that holds {BATCHES_DIRNAME}, "
           f"set ${DATA_ENV}, or use --dataset synthetic")
    explicit = data_dir or os.environ.get(DATA_ENV)
    if explicit and not root.exists():
        return f"data folder {root} does not exist: {fix}"
    if find_batches_dir(root) is None and not downloads_allowed():
        return f"no CIFAR-10 in {root} and downloads are off (${OFFLINE_ENV}=1): {fix}"
    return None


def pinned_data_dir(dataset: str, data_dir: str | None) -> str | None:
    """The data folder a queued run will use, as an absolute path: --data-dir, else
    $CIFAR_TUI_DATA, else the cache folder, resolved now in the caller's shell. The
    detached worker has another working folder and environment, so it must not guess."""
    if dataset != "cifar10":
        return data_dir
    return str(resolve_data_dir(data_dir).resolve())
