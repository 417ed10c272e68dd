"""A daemon thread beside a training run (the lease renewer, the system sampler): started
when the run starts, stopped and joined when it ends, whatever the outcome."""

from __future__ import annotations

import threading
from typing import TypeVar

T = TypeVar("T", bound="RunThread")
JOIN_SECONDS = 10.0  # a beat or a sample in flight: one store call


class RunThread:
    """Subclasses write ``_run`` as a loop on ``self._halt.wait(every)``."""

    def __init__(self, name: str) -> None:
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self: T) -> T:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the loop to end and wait for the call in flight to finish."""
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout=JOIN_SECONDS)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        raise NotImplementedError
