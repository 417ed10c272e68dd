"""The worker floor: the one place that joins training (engine) and the store (storage).

`launcher` is torch- and SQL-free, so the TUI can start and find workers cheaply.
"""
