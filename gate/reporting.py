"""Hand the journal's decisions to the MQTT link as ``gate.scan`` and ``gate.passage`` events.

The event id is chosen before the hand-off and kept in the journal (a scan's event id is its
nonce), and the journal row is marked "queued" right after the outbox write. A crash between the
two is the only way a row is handed again, and then with the same event id: on restart,
:meth:`Reporter.reconcile` first looks for the id in the outbox, and the hub drops a repeated event
id (and a repeated redemption nonce) anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from gate.faults import Faults
from gate.journal import Entry, Journal
from venue.ids import new_id
from venue.messages import Event
from venue.topics import DeviceRef

log = logging.getLogger("venue.gate.reporting")


def ticket_of(e: Entry) -> dict[str, Any] | None:
    if e.ref is None:
        return None
    return {"ref": e.ref, "series": e.series}


def scan_data(e: Entry) -> dict[str, Any]:
    """The ``gate.scan`` payload of docs/contracts.md (never the code itself)."""
    data: dict[str, Any] = {
        "nonce": e.nonce,
        "result": e.result,
        "reason": e.reason,
        "direction": e.direction,
        "offline": e.offline,
        "ticket": ticket_of(e),
        "latency_ms": round(e.latency_ms, 2),
        "scanned_at": e.scanned_at,
        "first_used_at": e.first_used_at,
        "first_gate": e.first_gate,
        "source": e.source,
    }
    if e.by:
        data["by"] = e.by
    return data


def passage_data(e: Entry) -> dict[str, Any]:
    return {
        "nonce": e.nonce,
        "ref": e.ref,
        "direction": e.direction,
        "passed": bool(e.passed),
        "annulled": e.annulled,
        "offline": e.offline,
    }


class Reporter:
    """Moves events from the journal to the link exactly once per journal row."""

    def __init__(self, journal: Journal, link: Any, ref: DeviceRef, *, faults: Faults) -> None:
        self.journal = journal
        self.link = link
        self.ref = ref
        self.faults = faults

    def _put(self, type_: str, event_id: str, data: dict[str, Any], ts: str) -> None:
        event = Event(
            site=self.ref.site, device=self.ref.device, type=type_, data=data, id=event_id, ts=ts
        )
        self.link.publish(self.ref.event(type_), event.encode(), qos=1, durable=True)

    def scan(self, e: Entry) -> None:
        """Hand the ``gate.scan`` of a recorded decision to the outbox, then mark it."""
        self._put("gate.scan", e.nonce, scan_data(e), e.scanned_at)
        self.faults.point("after_scan_put")
        self.journal.update(e.nonce, scan_queued=1)

    def passage(self, nonce: str, ts: str) -> None:
        """Hand the ``gate.passage`` of a settled admission (its event id is in the journal)."""
        e = self.journal.get(nonce)
        if e is None or e.passage_event_id is None or e.passage_queued:
            return
        self._put("gate.passage", e.passage_event_id, passage_data(e), ts)
        self.faults.point("after_passage_put")
        self.journal.update(nonce, passage_queued=1)

    def _in_outbox(self) -> set[str]:
        """Event ids waiting in the outbox (read before the link starts sending)."""
        outbox = getattr(self.link, "outbox", None)
        ids: set[str] = set()
        if outbox is None:
            return ids
        seq = 0
        while True:
            items = outbox.peek_after(seq, 500)
            if not items:
                return ids
            for item in items:
                try:
                    ids.add(Event.decode(item.payload).id)
                except ValueError:
                    pass
            seq = items[-1].seq

    def reconcile(self, ts: str) -> int:
        """After a restart: hand every row whose events were not marked queued; returns how many."""
        queued = self._in_outbox()
        n = 0
        for e in self.journal.pending_scan_events():
            if e.nonce in queued:
                self.journal.update(e.nonce, scan_queued=1)
            else:
                self.scan(e)
                n += 1
        for e in self.journal.pending_passage_events():
            if e.passage_event_id in queued:
                self.journal.update(e.nonce, passage_queued=1)
            else:
                self.passage(e.nonce, ts)
                n += 1
        return n

    @staticmethod
    def new_passage_id() -> str:
        return new_id()
