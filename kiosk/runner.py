"""Running hub calls off the UI thread and handing their outcome back to it.

The presenter never blocks: it gives a job (a blocking function) and a ``done`` callback to a
:class:`Runner`. :class:`ThreadRunner` runs jobs one after the other on a worker thread and uses
the ``deliver`` function it was built with to call ``done`` on the UI thread (the Kivy app passes
one built on ``Clock.schedule_once``). :class:`SyncRunner` runs everything at once on the caller's
thread, for presenter tests and the screenshot tour.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("venue.kiosk.runner")

Done = Callable[[Any, BaseException | None], None]


class Runner(Protocol):
    def submit(self, job: Callable[[], Any], done: Done) -> None:
        """Run ``job`` and then call ``done(result, None)`` or ``done(None, error)``."""
        ...


class SyncRunner:
    """Runs the job now, on the calling thread."""

    def submit(self, job: Callable[[], Any], done: Done) -> None:
        try:
            result = job()
        except Exception as exc:
            done(None, exc)
            return
        done(result, None)


class ThreadRunner:
    """One worker thread, jobs in order; outcomes delivered through ``deliver``.

    One thread is enough and keeps calls ordered: a customer waits for one answer at a time, and
    the single keep-alive HTTP session is not shared between threads.
    """

    def __init__(self, deliver: Callable[[Callable[[], None]], None]) -> None:
        self._deliver = deliver
        self._jobs: queue.Queue[tuple[Callable[[], Any], Done] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kiosk-worker", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], Any], done: Done) -> None:
        self._jobs.put((job, done))

    def pending(self) -> int:
        return self._jobs.qsize()

    def _run(self) -> None:
        while True:
            entry = self._jobs.get()
            if entry is None:
                return
            job, done = entry
            try:
                result, error = job(), None
            except Exception as exc:
                result, error = None, exc
            self._deliver(lambda d=done, r=result, e=error: d(r, e))  # type: ignore[misc]

    def stop(self, timeout: float = 2.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)
