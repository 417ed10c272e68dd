"""Which queued runs a worker's device may claim: the one rule, shared by store and worker.

A run asks for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; a worker serves one device
(``auto``, ``cpu``, ``cpu:N`` or ``cuda:N``; CPU "devices" let tests run several workers
on one machine). Stdlib only: the store filters its claim query with it.
"""

from __future__ import annotations


def accepted_requests(worker_device: str | None) -> tuple[str, ...] | None:
    """The run device requests a worker on ``worker_device`` may claim; None means any
    (an ``auto`` worker trains each run where the run asks, as before multi-device)."""
    if not worker_device or worker_device == "auto":
        return None
    head, _, index = worker_device.partition(":")
    accepted = ["auto", head]
    if index:
        accepted.append(worker_device)
    return tuple(accepted)


def accepts(worker_device: str | None, requested: str) -> bool:
    allowed = accepted_requests(worker_device)
    return allowed is None or requested in allowed
