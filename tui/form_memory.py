"""What the new-run form remembers between sessions: the last data folder used.

A small JSON file in the app folder; torch-free and forgiving (a bad file is ignored).
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.paths import app_home


def memory_file() -> Path:
    return app_home() / "tui-form.json"


def last_data_dir() -> str | None:
    try:
        value = json.loads(memory_file().read_text()).get("data_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def remember_data_dir(data_dir: str) -> None:
    path = memory_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"data_dir": data_dir}))
        tmp.replace(path)  # a reader never sees half a file
    except OSError:
        pass  # remembering is a convenience: the run is queued either way
