"""Background jobs: the one helper for blocking work, and how a failed job is told.

A job is a thread worker owned by the App, not by the screen that starts it:
Textual posts ``Worker.StateChanged`` only to a worker's own node (it does not
bubble), so this is what lets the App's one handler see every failure
(harlequin's model). Jobs stay exclusive per screen instance, as ``@work`` made them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Concatenate, ParamSpec, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

from engine.config import ConfigError
from engine.formatting import first_line
from storage.errors import StoreError

P = ParamSpec("P")
N = TypeVar("N", bound=DOMNode)


Method = Callable[Concatenate[N, P], None]
Starter = Callable[Concatenate[N, P], Worker[None]]


def job(group: str) -> Callable[[Method[N, P]], Starter[N, P]]:
    """Run the decorated method in a thread; a newer call cancels an older one still
    running for the same node. The method just raises: the App tells the user."""

    def decorate(method: Method[N, P]) -> Starter[N, P]:
        @wraps(method)
        def start(self: N, *args: P.args, **kwargs: P.kwargs) -> Worker[None]:
            return self.app.run_worker(
                partial(method, self, *args, **kwargs), name=method.__name__,
                group=f"{group}#{id(self)}", description=f"{type(self).__name__}.{group}",
                exclusive=True, thread=True, exit_on_error=False,
            )

        return start

    return decorate


def failure_text(error: BaseException, save: Callable[[BaseException], object]) -> str:
    """One line for a failed job: a store or config error says its fix; anything else
    is a bug, so its traceback is saved (by ``save``, which returns where) and named."""
    if isinstance(error, (StoreError, ConfigError)):
        return str(error)
    first = first_line(str(error))
    where = save(error)
    saved = f"traceback in {where}" if where else "the traceback could not be saved"
    return f"{type(error).__name__}: {first[:200]} (a bug; {saved})"
