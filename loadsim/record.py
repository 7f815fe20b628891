"""What the simulated devices sent and were answered: the simulation's side of the audit.

Thread-safe appends only; the audit compares these sets with the database afterwards.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Sent:
    """Everything the devices asked for, by the key the hub must store it under once."""

    nonces: dict[str, str] = field(default_factory=dict)
    """Redemption nonce → ticket ref (online answers and offline uploads alike)."""
    expected: dict[str, str] = field(default_factory=dict)
    """Online nonce → the result it must get (``admit`` for a fresh code, ``reject`` again)."""
    answers: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Online nonce → (result, reason) the hub answered."""
    offline: set[str] = field(default_factory=set)
    """Nonces uploaded as offline admissions over MQTT."""
    events: set[str] = field(default_factory=set)
    """Event ids published through the devices' outboxes."""
    ledger_keys: set[str] = field(default_factory=set)
    """``loyalty_ledger.idempotency_key`` of every visit that must be credited once."""
    scan_ms: list[float] = field(default_factory=list)
    """Scan to decision, online scans (including a failover to another replica)."""
    kiosk_ms: list[float] = field(default_factory=list)
    """Kiosk identify + visit credit, end to end."""
    uploaded: int = 0
    """Scans decided offline by choice (``--offline-share``) and uploaded."""
    local: int = 0
    """Scans a gate decided itself because the hub did not answer within its budget."""
    failovers: int = 0
    """Requests that had to go to another replica (theirs did not answer)."""
    rate_limited: int = 0
    errors: list[str] = field(default_factory=list)


class Recorder:
    """Appends to a :class:`Sent` under one lock."""

    def __init__(self) -> None:
        self.sent = Sent()
        self._lock = threading.Lock()

    def online(self, nonce: str, ref: str, expected: str, got: tuple[str, str], ms: float,
               failovers: int) -> None:
        with self._lock:
            s = self.sent
            s.nonces[nonce] = ref
            s.expected[nonce] = expected
            s.answers[nonce] = got
            s.scan_ms.append(ms)
            s.failovers += failovers

    def offline(self, nonce: str, ref: str) -> None:
        with self._lock:
            self.sent.nonces[nonce] = ref
            self.sent.offline.add(nonce)
            self.sent.uploaded += 1

    def event(self, event_id: str) -> None:
        with self._lock:
            self.sent.events.add(event_id)

    def visit(self, ledger_key: str, ms: float | None = None, failovers: int = 0) -> None:
        with self._lock:
            self.sent.ledger_keys.add(ledger_key)
            self.sent.failovers += failovers
            if ms is not None:
                self.sent.kiosk_ms.append(ms)

    def local(self, ms: float, nonce: str | None = None, ref: str = "") -> None:
        """A scan decided by the gate itself; ``nonce`` when it admitted (and uploads it)."""
        with self._lock:
            self.sent.local += 1
            self.sent.scan_ms.append(ms)
            if nonce is not None:
                self.sent.nonces[nonce] = ref
                self.sent.offline.add(nonce)

    def limited(self) -> None:
        with self._lock:
            self.sent.rate_limited += 1

    def error(self, text: str) -> None:
        with self._lock:
            if len(self.sent.errors) < 50:
                self.sent.errors.append(text)
