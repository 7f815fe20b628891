"""The gate daemon: read → de-bounce → decide → record → actuate → wait for the turn → report.

Order is the whole point: the decision is in the journal (fsync) before the relay moves, so a
crash can leave a record without an opening, never an opening without a record; on restart,
admissions that never settled are annulled (they cannot have been used) and events not yet handed
to the outbox are handed, with the ids chosen before the crash.

Readers run in their own threads and feed one queue; decisions are made one at a time on the
daemon's thread, in the order codes were read. Settling a passage (waiting for the rotation
sensor) runs on another thread, so the next visitor can scan while the previous one walks through.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter, deque
from typing import Any

from gate.actuator import Turnstile
from gate.config import GateConfig
from gate.debounce import Debouncer
from gate.decision import Decision, reject
from gate.faults import Faults
from gate.journal import ACTUATED, DECIDED, DONE, VOID, Entry, Journal, JournalHistory
from gate.operator import Operator
from gate.operator import telemetry as operator_telemetry
from gate.providers import (
    CheckProvider,
    CheckRequest,
    FallbackProvider,
    OfflineProvider,
    OnlineProvider,
)
from gate.replica import ReplicaRefresher, ReplicaStore
from gate.reporting import Reporter
from gate.sources.base import Scan, Source, open_source
from venue.clock import SYSTEM_CLOCK, Clock
from venue.ids import new_id
from venue.messages import rfc3339
from venue.reasons import Reason
from venue.topics import PREFIX, DeviceRef

log = logging.getLogger("venue.gate")

STUCK_S = 30.0
"""A scan still being handled after this long means the loop is wedged (watchdog)."""


class GateDaemon:
    """One gate. Collaborators are keyword-only and default to the real ones built from config.

    Args:
        cfg: The gate's config.
        clock: Time for scan times, budgets and de-bouncing.
        pin_factory: gpiozero pin factory (default from ``io.pin_factory``).
        scanner: Readers to use instead of the ``[scanner]`` sections.
        mqtt: An :class:`venue.mqtt.MqttLink` (or anything with its methods).
        http: A ``requests.Session`` shared by the online provider and the replica refresher.
        provider: A check provider instead of online-with-offline-fallback.
        faults: Fault-injection points (default from ``VENUE_GATE_FAULT``).
    """

    def __init__(
        self,
        cfg: GateConfig,
        *,
        clock: Clock | None = None,
        pin_factory: Any = None,
        scanner: list[Source] | None = None,
        mqtt: Any = None,
        http: Any = None,
        provider: CheckProvider | None = None,
        faults: Faults | None = None,
        stdin: Any = None,
        config_path: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.g = cfg.gate
        self.config_path = config_path
        self.clock = clock or SYSTEM_CLOCK
        self.ref = DeviceRef(cfg.device.site, "gate", cfg.device.id)
        self.faults = faults or Faults()
        self.journal = Journal(cfg.data_path("gate-journal.db", self.g.journal))
        self.replica = ReplicaStore(cfg.data_path("gate-replica.db", self.g.replica))
        token = self.g.resolved_token()
        self.online = OnlineProvider(
            self.g.hub_url, self.ref.device, token, budget_s=self.g.budget_ms / 1000.0, http=http
        )
        self.refresher = ReplicaRefresher(
            self.replica,
            hub_url=self.g.hub_url,
            gate_id=self.ref.device,
            token=token,
            refresh_s=self.g.replica_refresh_s,
            probe_s=self.g.probe_s,
            on_hub=self._hub_state,
            clock=self.clock,
        )
        self.offline = OfflineProvider(
            self.replica,
            JournalHistory(self.journal, self.replica, self.ref.device),
            max_age_s=self.g.replica_max_age_s,
            fail_open=self.g.fail_open,
            allow_serial_entry=self.g.allow_serial_entry,
            age=self.refresher.age_s,
        )
        self.fallback = FallbackProvider(
            self.online,
            self.offline,
            allow_serial_entry=self.g.allow_serial_entry,
            clock=self.clock,
            retry_s=max(self.g.probe_s * 5, 2.0),
            on_down=self.refresher.hint,
            before_ask=self._intent,
        )
        self.provider: CheckProvider = provider or self.fallback
        if mqtt is None:
            from venue.mqtt import MqttLink
            from venue.outbox import Outbox

            outbox = Outbox(cfg.data_path("gate-outbox.db", None), max_items=cfg.mqtt.outbox_max)
            mqtt = MqttLink(
                self.ref, cfg.mqtt, outbox=outbox, clock=self.clock, status_extra=self._status
            )
        self.link = mqtt
        self.reporter = Reporter(self.journal, self.link, self.ref, faults=self.faults)
        self.operator = Operator(self)
        self.turnstile = Turnstile(cfg.io, pin_factory=pin_factory)
        self.debouncer = Debouncer(self.g.debounce_s, clock=self.clock)
        self.sources: list[Source] = (
            scanner
            if scanner is not None
            else [
                open_source(s, clock=self.clock, decoder=self._decoder(), stdin=stdin)
                for s in cfg.scanners
            ]
        )
        self.mode: str = self.g.mode
        self.counts: Counter[str] = Counter()
        self.scan_times: deque[float] = deque()
        self._scans: queue.Queue[Scan] = queue.Queue()
        self._settle: queue.Queue[tuple[Entry, float, int]] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.idle = threading.Event()
        self._busy_since: float | None = None
        self.decide_thread: threading.Thread | None = None
        self._source = "stdin"

    def _decoder(self) -> Any:
        if not any(s.kind in ("camera", "usb-camera", "folder") for s in self.cfg.scanners):
            return None
        from venue.decoder import Decoder

        return Decoder.from_config(self.cfg.decoder)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Reconcile the journal, then start the link, replica refresher, readers and settler."""
        self.reconcile()
        self.operator.register(self.link)
        self.link.subscribe(f"{PREFIX}/{self.ref.site}/hub/+/event/hub.replica", self._on_hint)
        self.link.start()
        self.refresher.start()
        if self.mode == "free-passage":
            self.turnstile.hold_open(True)
        self._spawn("gate-settle", self._settle_loop)
        self._spawn("gate-housekeeping", self.operator.housekeeping, self._stop)
        for i, src in enumerate(self.sources):
            self._spawn(f"gate-source-{i}-{src.name}", self._read_loop, src)

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def run(self) -> None:
        """Decide scans until :meth:`stop`; the caller's thread does the deciding."""
        while not self._stop.is_set():
            try:
                scan = self._scans.get(timeout=0.2)
            except queue.Empty:
                self.idle.set()
                continue
            self.idle.clear()
            self._busy_since = self.clock.monotonic()
            try:
                self.handle(scan)
            except Exception:
                self.counts["errors"] += 1
                log.exception("scan handling failed")
            finally:
                self._busy_since = None

    def healthy(self) -> bool:
        """For the systemd watchdog: the decision loop runs and no scan is stuck in it."""
        if self.decide_thread is not None and not self.decide_thread.is_alive():
            return False
        busy = self._busy_since
        return busy is None or self.clock.monotonic() - busy < STUCK_S

    def request_stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        for src in self.sources:
            try:
                src.close()
            except Exception:
                log.debug("closing source failed", exc_info=True)
        self.refresher.stop()
        for t in self._threads:
            t.join(2)
        self.link.stop()
        self.turnstile.close()
        self.journal.close()
        self.replica.close()

    def reconcile(self) -> None:
        """Settle what a crash left behind (see the module docstring)."""
        now = rfc3339(self.clock.now())
        for e in self.journal.intents():
            # The hub may have admitted this nonce; nobody was let through. Undo it there.
            log.warning("scan %s was never decided here (crash?): annulling at the hub", e.nonce)
            self.journal.update(e.nonce, state=VOID, hub_annul_pending=1)
        # Scans first: the hub must see an offline admission before the passage that annuls it.
        handed = self.reporter.reconcile(now)
        if handed:
            log.info("handed %d journal record(s) to the outbox after restart", handed)
        for e in self.journal.unfinished():
            log.warning("admission %s never settled (crash?): annulling it", e.nonce)
            self._finish(e, passed=False)

    # --- the cycle ------------------------------------------------------------------------------

    def _read_loop(self, src: Source) -> None:
        try:
            for scan in src.scans(self._stop):
                self._scans.put(scan)
        except Exception as exc:
            self.counts["source_errors"] += 1
            log.exception("scanner %s failed", src.name)
            try:
                self.link.publish_event(
                    "device.error", {"component": f"scanner:{src.name}", "error": str(exc)[:200]}
                )
            except Exception:
                log.debug("could not report the scanner failure", exc_info=True)

    def submit(self, text: str, source: str = "stdin", direction: str | None = None) -> None:
        """Queue a code as if a reader had read it now."""
        self._scans.put(Scan(text, source, self.clock.now(), self.clock.monotonic(), direction))

    def handle(self, scan: Scan) -> Entry | None:
        """Decide, record and actuate one scan; ``None`` for a de-bounced repeat."""
        if not self.debouncer.accept(scan.text):
            self.counts["debounced"] += 1
            return None
        direction = scan.direction or self.g.direction
        nonce = new_id()
        if self.mode == "locked":
            decision = reject(Reason.ERROR, offline=False)
        else:
            self._source = scan.source
            decision = self.provider.check(CheckRequest(scan.text, direction, nonce, scan.at))
        latency_ms = (self.clock.monotonic() - scan.mono) * 1000.0
        return self._act(scan, nonce, direction, decision, latency_ms)

    def _act(
        self,
        scan: Scan,
        nonce: str,
        direction: str,
        d: Decision,
        latency_ms: float,
        by: str | None = None,
    ) -> Entry:
        entry = Entry(
            nonce=nonce,
            scanned_at=rfc3339(scan.at),
            source=scan.source,
            direction=direction,
            result=str(d.result),
            reason=str(d.reason),
            offline=d.offline,
            ref=d.ticket_ref,
            series=d.series,
            first_used_at=rfc3339(d.first_used_at) if d.first_used_at else None,
            first_gate=d.first_gate,
            latency_ms=latency_ms,
            by=by,
            state=DECIDED if d.admitted else DONE,
        )
        self.faults.point("before_record")
        self.journal.record(entry)
        self.faults.point("after_record")
        pulse = 0
        if d.admitted:
            pulse = self.turnstile.open_once()
            self.faults.point("after_pulse")
        self.turnstile.signal(d.admitted)
        self._count(d)
        self.reporter.scan(entry)
        if d.admitted:
            self.journal.update(nonce, state=ACTUATED)
            self._settle.put((entry, self.clock.monotonic() + self.g.annul_timeout_s, pulse))
        log.info(
            "%s %s ref=%s dir=%s offline=%s %.1f ms",
            d.result,
            d.reason,
            d.ticket_ref,
            direction,
            d.offline,
            latency_ms,
        )
        return entry

    def _intent(self, req: CheckRequest) -> None:
        """Before the hub is asked: note the nonce (see :meth:`gate.journal.Journal.intent`)."""
        self.journal.intent(req.nonce, rfc3339(req.scanned_at), self._source, req.direction)

    def _count(self, d: Decision) -> None:
        self.counts["scans"] += 1
        self.counts["admits" if d.admitted else "rejects"] += 1
        self.counts[f"reason_{d.reason}"] += 1
        if d.offline:
            self.counts["offline_decisions"] += 1
        now = self.clock.monotonic()
        self.scan_times.append(now)
        while self.scan_times and now - self.scan_times[0] > 60.0:
            self.scan_times.popleft()

    def _settle_loop(self) -> None:
        while not self._stop.is_set():
            try:
                entry, deadline, pulse = self._settle.get(timeout=0.2)
            except queue.Empty:
                continue
            if self.turnstile.held_open:
                passed = True
            else:
                wait = max(0.0, deadline - self.clock.monotonic())
                passed = self.turnstile.wait_rotation(wait, pulse)
            try:
                self._finish(entry, passed=passed)
            except Exception:
                log.exception("settling %s failed", entry.nonce)

    def _finish(self, e: Entry, *, passed: bool) -> None:
        """Record the passage (or annul the admission) and report it."""
        annul = not passed
        pending = False
        if annul and not e.offline and e.by is None:
            pending = not self.online.annul(e.nonce)
        self.journal.update(
            e.nonce,
            state=DONE,
            passed=int(passed),
            annulled=int(annul),
            hub_annul_pending=int(pending),
            passage_event_id=self.reporter.new_passage_id(),
        )
        self.counts["passages" if passed else "annulled"] += 1
        self.reporter.passage(e.nonce, rfc3339(self.clock.now()))

    # --- hub state, replica hints, telemetry ----------------------------------------------------

    def _hub_state(self, up: bool) -> None:
        self.fallback.hub_state(up)
        if up:
            for e in self.journal.pending_hub_annulments():
                if self.online.annul(e.nonce):
                    self.journal.update(e.nonce, hub_annul_pending=0)

    def _on_hint(self, msg: Any) -> None:
        self.refresher.hint()

    def telemetry(self) -> dict[str, Any]:
        """Counters for ``telemetry`` and ``ping``: :func:`gate.operator.telemetry`."""
        return operator_telemetry(self)

    def _status(self) -> dict[str, Any]:
        return {"mode": self.mode, "direction": self.g.direction}
