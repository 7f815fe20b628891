"""Drill: a gate whose clock is minutes off (a Pi that booted without network, a dead RTC).

The gate runs in-process with an injected clock skewed by ±5 minutes (the daemon takes its clock
as a parameter; the hub is the real subprocess with the real clock). Online, validity windows
must be judged on the hub's clock whatever the gate says, and the ledger must not record a scan
after it was received. Offline, the gate can only use its own clock; it must still decide (no
errors, wide windows admitted, long-expired tickets refused), and what it uploads must not put a
ticket's first use in the hub's future.

Loyalty cooldowns (also named by issue 11) do not exist in the hub yet, so they are not drilled.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from drillkit import sql, wait_until
from faultproxy import FaultProxy
from gatekit import HubProc, gate_toml
from gpiozero.pins.mock import MockFactory

from gate.config import GateConfig
from gate.daemon import GateDaemon
from gate.journal import Entry
from venue.config import load_config
from venue.messages import parse_time, rfc3339

SKEW = timedelta(minutes=5)


class SkewedClock:
    """The real clock, off by ``offset`` on the wall face (monotonic time is not affected)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        import time

        return time.monotonic()


@pytest.fixture
def hub(broker: Any, tmp_path: Path) -> Iterator[HubProc]:
    h = HubProc(tmp_path, broker.url)
    h.start()
    yield h
    h.stop()


class SkewedGate:
    def __init__(self, tmp_path: Path, broker: Any, hub: HubProc, offset: timedelta,
                 name: str) -> None:
        self.proxy = FaultProxy(hub.port).start()
        cfg_path = gate_toml(tmp_path / f"{name}.toml", device=name, data_dir=tmp_path / name,
                             mqtt_url=broker.url, hub_url=self.proxy.url, token=hub.token(name),
                             trace=tmp_path / f"{name}.pins")
        cfg = load_config(GateConfig, cfg_path, env={})
        self.factory = MockFactory()
        self.d = GateDaemon(cfg, clock=SkewedClock(offset), pin_factory=self.factory,
                            scanner=[], config_path=str(cfg_path))
        self.d.start()
        self.thread = threading.Thread(target=self.d.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.d.refresher.refreshes >= 1, 20, "replica synced")

    def scan(self, code: str) -> Entry:
        """Present ``code``; the journal's row of its decision."""
        before = {e.nonce for e in self.d.journal.all() if e.state != "intent"}

        def decided() -> Entry | None:
            fresh = [e for e in self.d.journal.all()
                     if e.state != "intent" and e.nonce not in before]
            return fresh[-1] if fresh else None

        self.d.submit(code)
        entry: Entry = wait_until(decided, 20, "a decision")
        return entry

    def close(self) -> None:
        self.d.request_stop()
        self.thread.join(10)
        self.d.stop()
        self.proxy.stop()
        self.factory.reset()


def _series(hub: HubProc, name: str, start: timedelta, end: timedelta) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    s = hub.series(name=name, valid_from=rfc3339(now + start), valid_until=rfc3339(now + end),
                   issue_count=4)
    return list(s["codes"])


def test_online_windows_are_judged_on_the_hubs_clock(broker: Any, hub: HubProc,
                                                     tmp_path: Path) -> None:
    later = _series(hub, "Opens in 3 min", timedelta(minutes=3), timedelta(hours=2))
    ended = _series(hub, "Ended 2 min ago", -timedelta(hours=2), -timedelta(minutes=2))
    wide = _series(hub, "Open all day", -timedelta(hours=2), timedelta(hours=2))
    ahead = SkewedGate(tmp_path, broker, hub, SKEW, "g-ahead")
    try:
        # The gate believes the window is open (its clock is 5 min ahead); the hub says not yet.
        e = ahead.scan(later[0]["code"])
        assert (e.result, e.reason, e.offline) == ("reject", "not_yet_valid", False), e
        e = ahead.scan(wide[0]["code"])
        assert (e.result, e.offline) == ("admit", False), e
    finally:
        ahead.close()
    behind = SkewedGate(tmp_path, broker, hub, -SKEW, "g-behind")
    try:
        # The gate believes the ticket is still valid (5 min behind); the hub says expired.
        e = behind.scan(ended[0]["code"])
        assert (e.result, e.reason, e.offline) == ("reject", "expired", False), e
        e = behind.scan(wide[1]["code"])
        assert (e.result, e.offline) == ("admit", False), e
    finally:
        behind.close()
    # The ledger never records a scan after the hub received it (scan times are clamped).
    for scanned, received in sql(hub.db, "SELECT scanned_at, received_at FROM redemptions"):
        assert str(scanned) <= str(received), (scanned, received)


def test_offline_decisions_with_a_skewed_clock_stay_sane(broker: Any, hub: HubProc,
                                                         tmp_path: Path) -> None:
    wide = _series(hub, "Open all day", -timedelta(hours=2), timedelta(hours=2))
    old = _series(hub, "Ended yesterday", -timedelta(days=2), -timedelta(days=1))
    for offset, name in ((SKEW, "g-off-ahead"), (-SKEW, "g-off-behind")):
        gate = SkewedGate(tmp_path, broker, hub, offset, name)
        try:
            gate.proxy.set("blackhole")
            i = 0 if offset > timedelta(0) else 1
            e = gate.scan(wide[i]["code"])
            assert (e.result, e.offline) == ("admit", True), e
            e = gate.scan(old[i]["code"])
            assert (e.result, e.reason, e.offline) == ("reject", "expired", True), e
        finally:
            gate.close()


def test_offline_upload_from_a_fast_clock_is_not_in_the_hubs_future(
    broker: Any, hub: HubProc, tmp_path: Path
) -> None:
    wide = _series(hub, "Open all day", -timedelta(hours=2), timedelta(hours=2))
    gate = SkewedGate(tmp_path, broker, hub, SKEW, "g-fast")
    try:
        gate.proxy.set("blackhole")
        e = gate.scan(wide[0]["code"])
        assert (e.result, e.offline) == ("admit", True), e
        rows = wait_until(lambda: sql(hub.db, "SELECT scanned_at, received_at FROM redemptions "
                                              "WHERE nonce = :n", n=e.nonce), 30,
                          "the offline admission uploaded")
    finally:
        gate.close()
    info = hub.code(wide[0]["ref"])
    first = parse_time(info["first_used_at"])
    received = rows[0][1] if isinstance(rows[0][1], datetime) else parse_time(
        str(rows[0][1]).replace(" ", "T") + ("" if "+" in str(rows[0][1]) else "Z"))
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    assert first <= received + timedelta(seconds=1), (first, received)
