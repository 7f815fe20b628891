"""Named fault-injection points (failpoints) on the gate's crash-sensitive path.

``VENUE_GATE_FAULT=after_record`` makes the process kill itself with SIGKILL the first time it
reaches that point, exactly as a power cut or the OOM killer would; ``name:N`` waits for the Nth
time. The code path is the same with and without it: a point either does nothing or ends the
process, so what the tests prove is what runs at the turnstile.

Points, in cycle order: ``before_record``, ``after_record``, ``after_pulse``, ``after_scan_put``
(event in the outbox, journal not yet marked), ``after_passage_put``.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Mapping

ENV = "VENUE_GATE_FAULT"
POINTS = ("before_record", "after_record", "after_pulse", "after_scan_put", "after_passage_put")


class Faults:
    """Reads the armed point once; :meth:`point` is called at each named place."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        spec = (os.environ if env is None else env).get(ENV, "").strip()
        name, _, count = spec.partition(":")
        if name and name not in POINTS:
            raise ValueError(f"{ENV}={spec!r}: unknown point (known: {', '.join(POINTS)})")
        self.armed = name or None
        self.at = int(count) if count else 1
        self.seen: Counter[str] = Counter()

    def point(self, name: str) -> None:
        if self.armed != name:
            return
        self.seen[name] += 1
        if self.seen[name] >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)
