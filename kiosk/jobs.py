"""The blocking work behind the presenter's intents, run on the worker thread.

Each method talks to the hub and the durable store and returns plain values; none of them
touches the presenter's state, so they are safe off the UI thread. What offline means is decided
here, once: a visit credit the hub cannot take goes into the durable queue with its idempotency
key (and counts as "saved" to the customer); a returning customer is recognised offline through
the store's hashed cache; anything that spends points or places an order simply fails, because
points cannot be double-spent while the kiosk cannot ask the hub.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

from kiosk.models import HubClient, HubError, HubReason, Summary, VisitRequest, VisitResult
from kiosk.store import KioskStore
from venue.clock import Clock

log = logging.getLogger("venue.kiosk")


@dataclass(frozen=True, slots=True)
class Identified:
    """The outcome of identifying a customer and crediting their visit."""

    summary: Summary
    visits: tuple[VisitResult, ...]
    offline: bool
    """True when the hub could not be reached for some of it (credits were queued)."""


@dataclass(frozen=True, slots=True)
class Retried:
    """The outcome of one retry round: credits the hub took, and whether it answered at all."""

    sent: tuple[tuple[VisitRequest, VisitResult], ...]
    online: bool
    left: int


def new_key(device: str, what: str) -> str:
    """An idempotency key: made once per action, reused by every retry of it."""
    return f"{device}:{what}:{uuid.uuid4().hex}"


class Backend:
    """Hub calls plus the durable store, with the kiosk's offline rules."""

    def __init__(
        self,
        hub: HubClient,
        store: KioskStore,
        clock: Clock,
        *,
        device: str,
        businesses: list[int],
    ) -> None:
        self.hub = hub
        self.store = store
        self.clock = clock
        self.device = device
        self.businesses = list(businesses)

    def identify(self, *, e164: str | None = None, card: str | None = None) -> Identified:
        """Identify by phone or card and credit the visit at each business.

        Raises:
            HubError: ``unknown_customer`` (ask for consent), ``invalid_phone``,
                ``rate_limited``, or ``offline`` when the hub is away and the customer is not in
                the local cache.
        """
        try:
            summary = self.hub.identify(phone=e164, card=card, businesses=self.businesses)
        except HubError as exc:
            if exc.reason != HubReason.OFFLINE or e164 is None:
                raise
            known = self.store.recall(e164)
            if known is None:
                raise
            summary = Summary(customer=known[0], masked_phone=known[1])
            visits = tuple(self._queue(self._visit(summary.customer, b)) for b in self.businesses)
            return Identified(summary, visits, offline=True)
        if e164 is not None:
            self.store.remember(e164, summary.customer, summary.masked_phone, seen=self.clock.now())
        return self.credit(summary)

    def register(self, e164: str) -> Identified:
        """Register a customer who gave consent, then credit their first visit."""
        summary = self.hub.register(phone=e164, businesses=self.businesses)
        self.store.remember(e164, summary.customer, summary.masked_phone, seen=self.clock.now())
        return self.credit(summary)

    def credit(self, summary: Summary) -> Identified:
        """Credit the visit at every business; once the hub fails, queue the rest unasked."""
        results: list[VisitResult] = []
        offline = False
        for business in self.businesses:
            visit = self._visit(summary.customer, business)
            if offline:
                results.append(self._queue(visit))
                continue
            try:
                results.append(self.hub.credit_visit(visit))
            except HubError as exc:
                if exc.reason != HubReason.OFFLINE:
                    log.warning("visit credit refused: %s", exc.reason)
                    continue
                offline = True
                results.append(self._queue(visit))
        return Identified(apply_visits(summary, results), tuple(results), offline)

    def retry(self, limit: int = 20) -> Retried:
        """Send queued credits, oldest first, until the hub fails; probe it when none wait."""
        queued = self.store.queued_visits(limit)
        if not queued:
            return Retried((), self.hub.ping(), 0)
        sent: list[tuple[VisitRequest, VisitResult]] = []
        online = True
        for visit in queued:
            try:
                result = self.hub.credit_visit(visit)
            except HubError as exc:
                if exc.reason == HubReason.OFFLINE:
                    self.store.visit_failed(visit.idempotency_key)
                    online = False
                    break
                log.warning("queued visit credit refused for good: %s", exc.reason)
                self.store.visit_sent(visit.idempotency_key)
                continue
            self.store.visit_sent(visit.idempotency_key)
            sent.append((visit, result))
        return Retried(tuple(sent), online, self.store.queue_depth())

    def _visit(self, customer: str, business: int) -> VisitRequest:
        return VisitRequest(
            customer=customer,
            business=business,
            idempotency_key=new_key(self.device, "visit"),
            at=self.clock.now(),
            device=self.device,
        )

    def _queue(self, visit: VisitRequest) -> VisitResult:
        self.store.queue_visit(visit, now=self.clock.now().timestamp())
        log.info("hub unreachable: visit credit queued (%s)", visit.idempotency_key)
        return VisitResult(visit.business, False, "queued", queued=True)


def apply_visits(summary: Summary, visits: list[VisitResult] | tuple[VisitResult, ...]) -> Summary:
    """The summary with balances the visit answers report, and affordability recomputed."""
    points = {b.business: b.points for b in summary.balances}
    for v in visits:
        if v.balance is not None and v.business in points:
            points[v.business] = v.balance
    return with_points(summary, points)


def with_points(summary: Summary, points: dict[int, int]) -> Summary:
    """The summary with new point balances per business (rewards' ``affordable`` follows)."""
    balances = tuple(
        replace(b, points=points.get(b.business, b.points)) for b in summary.balances
    )
    rewards = tuple(
        replace(r, affordable=points.get(r.business, 0) >= r.cost) if r.business in points else r
        for r in summary.rewards
    )
    return replace(summary, balances=balances, rewards=rewards)
