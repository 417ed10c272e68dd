"""The user's settings: how a run's end is told (terminal bell, webhook), pinned runs, and
whether a started worker serves every GPU. Stdlib only.

One small JSON file, ``settings.json`` in the app folder, read by every process that
tells a run's end (the worker, a foreground `train`, the TUI), so a change made with
`cifar-tui settings` reaches them all without a restart. The environment overrides it:
$CIFAR_TUI_WEBHOOK_URL (empty: none) and $CIFAR_TUI_BELL=0.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from engine.paths import app_home

SETTINGS_FILE = "settings.json"
WEBHOOK_ENV = "CIFAR_TUI_WEBHOOK_URL"
BELL_ENV = "CIFAR_TUI_BELL"
FALSE_WORDS = ("0", "off", "false", "no")


class SettingsError(ValueError):
    """A settings file or value that cannot be used; one line naming the fix."""


@dataclass(frozen=True)
class Settings:
    bell: bool = True  # ring the terminal bell in the TUI when a run completes or fails
    webhook_url: str | None = None  # POST a short message here (an ntfy topic, say)
    # Runs the TUI draws behind a live run's charts, by store id (run ids are per store).
    pinned_runs: dict[str, list[int]] = field(default_factory=dict)
    # `queue` and the TUI start a worker for every visible GPU (off: one `auto` worker).
    all_gpus: bool = True


def settings_path() -> Path:
    return app_home() / SETTINGS_FILE


def webhook_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook, as one line with the fix, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return (f"webhook URL {url!r} must start with http:// or https:// and name a host, "
                "e.g. https://ntfy.sh/mytopic")
    return None


def load_file(path: Path | None = None) -> Settings:
    """The settings as saved, without the environment's overrides. A missing file is
    the defaults; an unreadable one is a ``SettingsError``."""
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}; fix or delete the file") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path} must hold a JSON object; fix or delete the file")
    bell, url = raw.get("bell", True), raw.get("webhook_url")
    if not isinstance(bell, bool) or not (url is None or isinstance(url, str)):
        raise SettingsError(f"{path}: bell must be true/false and webhook_url a string or "
                            "null; fix it or use `cifar-tui settings`")
    all_gpus = raw.get("all_gpus", True)
    if not isinstance(all_gpus, bool):
        raise SettingsError(f"{path}: all_gpus must be true/false; fix it or use "
                            "`cifar-tui settings --all-gpus on|off`")
    return Settings(bell=bell, webhook_url=url or None, pinned_runs=pins_of(raw),
                    all_gpus=all_gpus)


def pins_of(raw: dict) -> dict[str, list[int]]:
    """The saved pins; a malformed entry is dropped (pins are not worth refusing the file)."""
    pins = raw.get("pinned_runs")
    if not isinstance(pins, dict):
        return {}
    return {str(store): [i for i in ids if isinstance(i, int)]
            for store, ids in pins.items() if isinstance(ids, list)}


def load(path: Path | None = None) -> Settings:
    """The settings in force: the file, then the environment's overrides."""
    settings = load_file(path)
    if (url := os.environ.get(WEBHOOK_ENV)) is not None:
        settings = replace(settings, webhook_url=url.strip() or None)
    if os.environ.get(BELL_ENV, "").strip().lower() in FALSE_WORDS:
        settings = replace(settings, bell=False)
    return settings


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings atomically (a reader never sees half a file); returns where."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path
