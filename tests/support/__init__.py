"""Helpers shared by the test suite, imported as ``from support.<module> import ...``.

pytest puts ``tests/`` on the import path (``pythonpath`` in pyproject.toml). Helpers
live here rather than in conftest.py: several conftest modules exist, and
``from conftest import`` resolves to whichever was imported first.

- ``data``: the repository's paths and tiny CIFAR-10 folders in the official format.
- ``clock``: a settable clock for the store, so timestamps are the same every run.
- ``store``: builders for configs, epochs, results and completed runs.
- ``procs``: entry points for spawned store processes, and a group that always ends them.
- ``e2e``: the real CLI and workers as subprocesses.
- ``tui_seed``: a seeded history for the TUI tests, and Pilot helpers.
"""
