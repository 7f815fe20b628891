"""Check providers (after pretix's ``TicketCheckProvider``): one interface, online and offline.

* :class:`OnlineProvider` asks the hub (``POST /api/v1/redemptions``) over one keep-alive
  ``requests`` session with the gate's budget as timeout; the hub's row lock means two gates
  cannot admit one code twice while it answers.
* :class:`OfflineProvider` decides with :func:`gate.decision.decide` over the local replica and
  the gate's journal, and refuses (or, if the operator chose it, admits) when the replica is older
  than the configured limit.
* :class:`FallbackProvider` asks online first, goes offline at once when the hub does not answer
  within the budget or is known to be down, and switches back as soon as the hub answers a probe.

Every :class:`gate.decision.Decision` says whether it was decided offline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import requests

from gate.decision import Decision, LocalHistory, ReplicaView, classify_or_reject, decide, reject
from venue.clock import SYSTEM_CLOCK, Clock
from venue.codes import CodeKind
from venue.errors import PayloadError, VenueError
from venue.messages import parse_time, rfc3339
from venue.reasons import Reason, Result

log = logging.getLogger("venue.gate.providers")


class HubUnavailable(VenueError, ConnectionError):
    """The hub did not answer within the budget, or answered with an error instead of a decision."""


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One scan to decide."""

    text: str
    direction: str
    nonce: str
    scanned_at: datetime


class CheckProvider(Protocol):
    """Decides scans; implementations are online, offline, or both."""

    def check(self, req: CheckRequest) -> Decision: ...


class OnlineProvider:
    """Asks the hub. Raises :class:`HubUnavailable` rather than guessing."""

    def __init__(
        self,
        hub_url: str,
        gate_id: str,
        token: str | None,
        *,
        budget_s: float = 0.25,
        http: requests.Session | None = None,
    ) -> None:
        self.base = hub_url.rstrip("/")
        self.gate_id = gate_id
        self.budget_s = budget_s
        self.http = http or requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def check(self, req: CheckRequest) -> Decision:
        body = {
            "code": req.text,
            "gate": self.gate_id,
            "direction": req.direction,
            "nonce": req.nonce,
            "scanned_at": rfc3339(req.scanned_at),
            "mode": "redeem",
        }
        resp = self._post_within_budget(f"{self.base}/api/v1/redemptions", body)
        if resp.status_code != 200:
            raise HubUnavailable(f"hub answered HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            return decision_from_hub(resp.json())
        except (ValueError, KeyError, TypeError, PayloadError) as exc:
            raise HubUnavailable(f"hub answer does not follow the contract: {exc!r}") from None

    def _post_within_budget(self, url: str, body: dict[str, Any]) -> requests.Response:
        """POST and return the answer, or raise :class:`HubUnavailable` once the budget is spent.

        ``requests``' timeout bounds each socket operation, not the whole call: a hub (or a lossy
        link) that sends its answer a few bytes at a time never trips it, and a drill measured a
        20 s decision that way. So the call runs on a helper thread and the visitor waits at most
        the budget. An abandoned call keeps its session, which is closed when the call ends; the
        next scan starts on a fresh one with the same headers.
        """
        http = self.http
        box: dict[str, Any] = {}
        done = threading.Event()

        def call() -> None:
            try:
                box["resp"] = http.post(url, json=body, timeout=self.budget_s)
            except requests.RequestException as exc:
                box["exc"] = exc
            finally:
                done.set()
                if box.get("abandoned"):
                    http.close()

        threading.Thread(target=call, name="gate-hub-call", daemon=True).start()
        if not done.wait(self.budget_s):
            box["abandoned"] = True
            fresh = requests.Session()
            fresh.headers.update(http.headers)
            self.http = fresh
            if done.is_set():  # finished in the meantime: it saw no flag, close it here
                http.close()
            raise HubUnavailable(f"hub did not answer within {self.budget_s * 1000:.0f} ms")
        if "exc" in box:
            raise HubUnavailable(f"hub did not answer: {box['exc'].__class__.__name__}")
        resp: requests.Response = box["resp"]
        return resp

    def annul(self, nonce: str, reason: str = "no_passage") -> bool:
        """Ask the hub to annul an admission; ``False`` when the hub is unreachable."""
        try:
            resp = self.http.post(
                f"{self.base}/api/v1/redemptions/{nonce}/annul",
                json={"reason": reason},
                timeout=max(self.budget_s, 2.0),
            )
        except requests.RequestException:
            return False
        if resp.status_code >= 500:
            return False
        if resp.status_code != 200:
            # Outside the annul window or unknown: nothing a retry would change.
            log.warning(
                "hub refused to annul %s: HTTP %s %s", nonce, resp.status_code, resp.text[:200]
            )
        return True

    def ping(self) -> bool:
        try:
            resp = self.http.get(f"{self.base}/health", timeout=self.budget_s * 4)
        except requests.RequestException:
            return False
        return resp.status_code < 500


def decision_from_hub(obj: dict[str, Any]) -> Decision:
    """A :class:`Decision` from the hub's redemption answer (docs/contracts.md)."""
    ticket = obj.get("ticket") or {}
    first = obj.get("first_used_at")
    return Decision(
        result=Result(obj["result"]),
        reason=Reason(obj["reason"]),
        ticket_ref=ticket.get("ref"),
        series=ticket.get("series"),
        offline=bool(obj.get("offline", False)),
        first_used_at=parse_time(first, "first_used_at") if first else None,
        first_gate=obj.get("first_gate"),
        kind=ticket.get("kind"),
        redemption_id=obj.get("redemption_id"),
    )


class OfflineProvider:
    """Decides from the local replica and journal, with the replica's age limit enforced."""

    def __init__(
        self,
        replica: ReplicaView,
        history: LocalHistory,
        *,
        max_age_s: float,
        fail_open: bool = False,
        allow_serial_entry: bool = False,
        age: Callable[[], float | None],
    ) -> None:
        self.replica = replica
        self.history = history
        self.max_age_s = max_age_s
        self.fail_open = fail_open
        self.allow_serial_entry = allow_serial_entry
        self.age = age
        self.stale = 0

    def check(self, req: CheckRequest) -> Decision:
        scanned = classify_or_reject(req.text)
        if isinstance(scanned, Decision):
            return scanned
        age = self.age()
        if age is None or age > self.max_age_s:
            self.stale += 1
            if not self.fail_open:
                return reject(Reason.ERROR)  # fail closed: staff decide
            if age is None:
                # Fail open with nothing to check against (never synced): admit, and record it.
                ref = scanned.generated.ref if scanned.generated else None
                series = scanned.generated.series_id if scanned.generated else None
                return Decision(Result.ADMIT, Reason.OK, ref, series, offline=True)
            # Fail open with an old replica: still reject what it proves bad (forged, expired,
            # used here), admit what only fresher data could refuse.
        return decide(
            scanned,
            self.replica,
            self.history,
            req.direction,
            req.scanned_at,
            allow_serial_entry=self.allow_serial_entry,
        )


class FallbackProvider:
    """Online while the hub answers within the budget; offline at once when it does not.

    After a failure the hub counts as down: scans go straight to the offline provider (no visitor
    waits a budget for a hub known to be gone) until :meth:`hub_state` reports an answer, which
    the replica refresher's probe does every ``probe_s``.
    """

    def __init__(
        self,
        online: OnlineProvider,
        offline: OfflineProvider,
        *,
        allow_serial_entry: bool = False,
        clock: Clock | None = None,
        retry_s: float = 5.0,
        on_down: Callable[[], None] | None = None,
        before_ask: Callable[[CheckRequest], None] | None = None,
    ) -> None:
        self.on_down = on_down
        self.before_ask = before_ask
        self.online = online
        self.offline = offline
        self.allow_serial_entry = allow_serial_entry
        self.clock = clock or SYSTEM_CLOCK
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self.fallbacks = 0

    @property
    def is_offline(self) -> bool:
        return self._down_since is not None

    def hub_state(self, up: bool) -> None:
        """Told by the probe whether the hub answers."""
        with self._lock:
            if up:
                if self._down_since is not None:
                    log.info("hub answers again: deciding online")
                self._down_since = None
            elif self._down_since is None:
                log.warning("hub is down: deciding offline")
                self._down_since = self.clock.monotonic()

    def check(self, req: CheckRequest) -> Decision:
        scanned = classify_or_reject(req.text)
        if isinstance(scanned, Decision):
            return scanned  # garbage: no need to ask anyone
        if scanned.kind is CodeKind.SERIAL and not self.allow_serial_entry:
            return reject(Reason.INVALID)
        with self._lock:
            down = self._down_since
        # Known down: decide offline at once, but try the hub again now and then in case the
        # probe is slow to notice that it is back.
        if down is not None and self.clock.monotonic() - down < self.retry_s:
            return self.offline.check(req)
        if self.before_ask is not None:
            self.before_ask(req)  # e.g. note the nonce, so a crash can annul it at the hub
        try:
            decision = self.online.check(req)
        except HubUnavailable as exc:
            self.fallbacks += 1
            log.warning("deciding offline: %s", exc)
            self.hub_state(False)
            with self._lock:
                self._down_since = self.clock.monotonic()
            if self.on_down is not None:
                self.on_down()  # start probing now, not at the next periodic refresh
            return self.offline.check(req)
        self.hub_state(True)
        return decision
