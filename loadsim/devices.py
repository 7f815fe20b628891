"""Simulated gates, kiosks and beacon scanners, one thread each, paced by a fixed rate.

They talk to the hub like the real devices: a gate redeems over HTTP (``POST /redemptions``, as
gate/providers.py does online) or, for a share of its scans, decides "offline" and uploads the
admission as a ``gate.scan`` event; every device publishes its events through its own
:class:`~venue.mqtt.MqttLink` with a durable outbox. Nothing here imports a role package.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from loadsim.hubpool import HubPool, NoReplica
from loadsim.record import Recorder
from venue.beacon_ids import beacon_pair, utc_day
from venue.ids import new_id
from venue.messages import rfc3339

APP_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


@dataclass(frozen=True, slots=True)
class Code:
    text: str
    ref: str
    series: int


class Codes:
    """Issued codes handed out once each (a fresh code is scanned by one gate only)."""

    def __init__(self, codes: list[Code]) -> None:
        self._left = collections.deque(codes)
        self._lock = threading.Lock()

    def take(self) -> Code | None:
        with self._lock:
            return self._left.popleft() if self._left else None


class Paced(threading.Thread):
    """Calls :meth:`step` every ``interval`` seconds (random phase) until ``stop_at``."""

    def __init__(self, name: str, interval: float, stop_at: float, rng: random.Random,
                 rec: Recorder, abort: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.stop_at = stop_at
        self.rng = rng
        self.rec = rec
        self.abort = abort

    def run(self) -> None:
        due = time.monotonic() + self.rng.uniform(0, self.interval)
        while due < self.stop_at and not self.abort.is_set():
            wait = due - time.monotonic()
            if wait > 0 and self.abort.wait(wait):
                return
            try:
                self.step()
            except NoReplica as exc:
                self.rec.error(f"{self.name}: {exc}")
            except Exception as exc:  # a simulator bug must show up, not kill the thread
                self.rec.error(f"{self.name}: {exc!r}")
            due += self.interval

    def step(self) -> None:
        raise NotImplementedError


class SimGate(Paced):
    """A turnstile: online redemptions, some offline admissions, some re-scans of used codes."""

    def __init__(self, device: str, pool: HubPool, link: Any, codes: Codes, *,
                 offline_share: float, rescan_share: float, budget_s: float = 0.0,
                 **kw: Any) -> None:
        super().__init__(device, **kw)
        self.device = device
        self.pool = pool
        self.link = link
        self.codes = codes
        self.offline_share = offline_share
        self.rescan_share = rescan_share
        self.budget_s = budget_s
        """> 0: like ``venue gate``, decide locally when the hub has not answered by then."""
        self.admitted: list[Code] = []
        self._late: threading.Event | None = None
        """Set when the request this gate gave up waiting for has ended."""

    def step(self) -> None:
        roll = self.rng.random()
        rescan = self.offline_share <= roll < self.offline_share + self.rescan_share
        code = None if rescan and self.admitted else self.codes.take()
        if code is not None and roll < self.offline_share:
            self._offline(code)
            return
        expected = "admit"
        if code is None:
            if not self.admitted:
                return
            code, expected = self.rng.choice(self.admitted), "reject"
        self._online(code, expected)

    def _online(self, code: Code, expected: str) -> None:
        nonce = new_id()
        now = datetime.now(UTC)
        body = {"code": code.text, "gate": self.device, "direction": "in", "nonce": nonce,
                "scanned_at": rfc3339(now), "mode": "redeem"}
        t0 = time.perf_counter()
        got_in_time = self._post_within_budget(body)
        if got_in_time is None:  # the hub is late: decide as the gate's offline provider does
            self._decided_locally(code, expected, nonce, body["scanned_at"],
                                  (time.perf_counter() - t0) * 1000)
            return
        status, answer, failovers = got_in_time
        ms = (time.perf_counter() - t0) * 1000
        if status != 200:
            self.rec.error(f"{self.device}: redemption HTTP {status}: {str(answer)[:120]}")
            return
        got = (str(answer["result"]), str(answer["reason"]))
        self.rec.online(nonce, code.ref, expected, got, ms, failovers)
        if got[0] == "admit" and expected == "admit":
            self.admitted.append(code)
        ev = self.link.publish_event("gate.scan", {
            "nonce": nonce, "result": got[0], "reason": got[1], "direction": "in",
            "offline": False, "ticket": {"ref": code.ref, "series": code.series},
            "latency_ms": round(ms, 2), "scanned_at": body["scanned_at"],
            "first_used_at": answer.get("first_used_at"), "first_gate": answer.get("first_gate"),
            "source": "camera"})
        self.rec.event(ev.id)

    def _post_within_budget(self, body: dict[str, Any]) -> tuple[int, Any, int] | None:
        """The hub's answer, or ``None`` when the budget ran out first (the request goes on and
        may still be decided by the hub: the same nonce keeps that to one row)."""
        if self.budget_s <= 0:
            return self.pool.post("/api/v1/redemptions", body)
        if self._late is not None and not self._late.is_set():
            # The previous request is still out: the hub counts as down for this gate (as in
            # gate/providers.py), so decide at once rather than pile up requests.
            return None
        box: dict[str, Any] = {}
        done = threading.Event()

        def call() -> None:
            try:
                box["answer"] = self.pool.post("/api/v1/redemptions", body)
            except Exception as exc:
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=call, name=f"{self.device}-call", daemon=True).start()
        if not done.wait(self.budget_s):
            self._late = done
            return None
        if "error" in box:
            raise box["error"]
        answer: tuple[int, Any, int] = box["answer"]
        return answer

    def _decided_locally(self, code: Code, expected: str, nonce: str, scanned_at: str,
                         ms: float) -> None:
        """A fresh code is admitted and uploaded as an offline admission under the scan's
        nonce; a code this gate admitted before is refused from its own log (stored only).

        The abandoned request may still reach the hub: for a fresh code it is stored under the
        same nonce as the upload, so once; for a re-scan the hub refuses it (it knows the code
        was used online)."""
        admit = expected == "admit"
        self.rec.local(ms, nonce if admit else None, code.ref)
        # Not a re-scan candidate: until its upload is applied the hub does not know the code is
        # used, so a re-scan answered online would be admitted and the upload then flagged as an
        # offline conflict — the designed outcome of two admissions in the offline window, and
        # not what this audit measures.
        ev = self.link.publish_event("gate.scan", {
            "nonce": nonce, "result": "admit" if admit else "reject",
            "reason": "ok" if admit else "already_used", "direction": "in", "offline": True,
            "ticket": {"ref": code.ref, "series": code.series}, "latency_ms": round(ms, 2),
            "scanned_at": scanned_at, "first_used_at": None, "first_gate": None,
            "source": "camera"})
        self.rec.event(ev.id)

    def _offline(self, code: Code) -> None:
        nonce = new_id()
        self.rec.offline(nonce, code.ref)
        ev = self.link.publish_event("gate.scan", {
            "nonce": nonce, "result": "admit", "reason": "ok", "direction": "in",
            "offline": True, "ticket": {"ref": code.ref, "series": code.series},
            "latency_ms": 1.0, "scanned_at": rfc3339(datetime.now(UTC)),
            "first_used_at": None, "first_gate": None, "source": "camera"})
        self.rec.event(ev.id)


class SimKiosk(Paced):
    """A kiosk: a customer types a number (identify), then checks in (a visit credit)."""

    def __init__(self, device: str, pool: HubPool, link: Any, phones: list[str],
                 business: int, **kw: Any) -> None:
        super().__init__(device, **kw)
        self.device = device
        self.pool = pool
        self.link = link
        self.phones = phones
        self.business = business

    def step(self) -> None:
        phone = self.rng.choice(self.phones)
        t0 = time.perf_counter()
        status, summary, f1 = self.pool.post(
            "/api/v1/kiosk/identify", {"phone": phone, "businesses": [self.business]})
        if status == 429:
            self.rec.limited()
            return
        if status != 200:
            self.rec.error(f"{self.device}: identify HTTP {status}")
            return
        key = new_id()
        status, visit, f2 = self.pool.post("/api/v1/visits", {
            "customer": summary["customer"], "business": self.business, "source": "kiosk",
            "device": self.device, "idempotency_key": key})
        ms = (time.perf_counter() - t0) * 1000
        if status != 200 or not visit.get("credited"):
            self.rec.error(f"{self.device}: visit HTTP {status}: {str(visit)[:120]}")
            return
        self.rec.visit(f"visit:{key}", ms, f1 + f2)
        ev = self.link.publish_event("kiosk.checkin", {
            "customer": summary["customer"], "business": self.business, "credited": True,
            "reason": visit.get("reason", "ok"), "offline": False})
        self.rec.event(ev.id)


class SimBeacon(Paced):
    """A beacon scanner: a phone of the app comes near and leaves (enter, then exit with dwell)."""

    _stamp = 0
    _stamp_lock = threading.Lock()

    def __init__(self, device: str, link: Any, installs: list[tuple[int, bytes]],
                 **kw: Any) -> None:
        super().__init__(device, **kw)
        self.device = device
        self.link = link
        self.installs = installs

    @classmethod
    def _since(cls) -> datetime:
        """A visit start no other visit of the run has (visit keys hold install and start)."""
        with cls._stamp_lock:
            cls._stamp += 1
            n = cls._stamp
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        return base + timedelta(milliseconds=n)

    def step(self) -> None:
        install, secret = self.rng.choice(self.installs)
        since = self._since()
        pair = beacon_pair(secret, utc_day(since))
        common = {"uuid": APP_UUID, "major": pair.major, "minor": pair.minor,
                  "scanner": self.device, "since": rfc3339(since)}
        enter = self.link.publish_event("beacon.enter", {**common, "dwell_s": 10.0})
        until = since + timedelta(seconds=180)
        leave = self.link.publish_event("beacon.exit", {**common, "dwell_s": 180.0,
                                                        "until": rfc3339(until)})
        self.rec.event(enter.id)
        self.rec.event(leave.id)
        self.rec.visit(f"visit:beacon:{install}:{rfc3339(since)}")
