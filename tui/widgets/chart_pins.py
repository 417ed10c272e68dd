"""Pinned runs: drawn behind a live run's charts until unpinned, kept in the app's
settings.json per store (run ids are per store), so they survive a restart."""

from __future__ import annotations

from dataclasses import replace

from engine.settings import SettingsError, load_file, save

# Bumped by every save in this process, so a screen coming back into view reloads its
# pins only when they changed (closing a dialog must not cost a file read and a job).
_generation = 0


def generation() -> int:
    return _generation


def load_pins(store_id: str) -> list[int]:
    """This store's pinned run ids; none when the settings file cannot be read
    (`cifar-tui settings` names that file and its fix)."""
    try:
        return list(load_file().pinned_runs.get(store_id, []))
    except SettingsError:
        return []


def save_pins(store_id: str, run_ids: list[int]) -> list[int]:
    """Replace this store's pins with ``run_ids`` (other stores' pins stay); returns them."""
    global _generation
    settings = load_file()
    pins = dict(settings.pinned_runs)
    if run_ids:
        pins[store_id] = sorted(set(run_ids))
    else:
        pins.pop(store_id, None)
    save(replace(settings, pinned_runs=pins))
    _generation += 1
    return pins.get(store_id, [])


def toggled(pins: list[int], run_ids: list[int]) -> list[int]:
    """Pin ``run_ids`` unless all of them are pinned already, then unpin them."""
    if all(i in pins for i in run_ids):
        return [i for i in pins if i not in run_ids]
    return sorted(set(pins) | set(run_ids))
