"""Drill: trouble on the link between a gate and the hub, through a fault-injecting proxy.

The real gate daemon talks to the real hub through :mod:`faultproxy`. For each kind of trouble
(a slow link, resets, a hub that accepts and never answers, a link dead in one direction, answers
trickling in byte by byte) the gate must decide within its budget (plus scheduling slack on a
busy 2-core machine), go offline by itself, and come back online by itself once the link heals;
and every admission it made offline must reach the hub's ledger exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from drillkit import Events, journal_rows, sql, wait_until
from faultproxy import FaultProxy
from gatekit import GateProc, HubProc, gate_toml

BUDGET_MS = 250
SLACK_MS = 300
"""Python start-up, GC and a loaded CI machine: still far below the seconds a hang costs."""


@pytest.fixture
def hub(broker: Any, tmp_path: Path) -> Iterator[HubProc]:
    h = HubProc(tmp_path, broker.url)
    h.start()
    yield h
    h.stop()


@pytest.fixture
def events(broker: Any) -> Iterator[Events]:
    e = Events(broker.port)
    yield e
    e.close()


class Lane:
    """One gate behind a proxy, and a supply of fresh tickets."""

    def __init__(self, tmp_path: Path, broker: Any, hub: HubProc, events: Events) -> None:
        self.proxy = FaultProxy(hub.port).start()
        self.events = events
        self.device = "g-net"
        series = hub.series(name="Network", issue_count=40)
        self.codes = [c["code"] for c in series["codes"]]
        self.data = tmp_path / self.device
        cfg = gate_toml(tmp_path / "g-net.toml", device=self.device, data_dir=self.data,
                        mqtt_url=broker.url, hub_url=self.proxy.url,
                        token=hub.token(self.device), trace=tmp_path / "pins.log",
                        gate_extra=f"budget_ms = {BUDGET_MS}")
        text = cfg.read_text().replace("budget_ms = 250\n", "", 1)
        cfg.write_text(text)
        self.gate = GateProc(cfg, tmp_path)

    def telemetry(self) -> dict[str, Any]:
        t = self.events.telemetry("gate", self.device)
        return t[-1] if t else {}

    def scan(self) -> tuple[dict[str, Any], float]:
        """Present a fresh ticket; the gate's own latency and the wall time until its event."""
        before = len(self.events.scans(self.device))
        t0 = time.monotonic()
        self.gate.send(self.codes.pop())
        scans = wait_until(lambda: len(self.events.scans(self.device)) > before
                           and self.events.scans(self.device), 30, "the gate's answer")
        return scans[before], (time.monotonic() - t0) * 1000

    def wait_state(self, offline: bool, timeout: float = 20.0) -> None:
        """Telemetry says the gate is (not) offline: it changed state by itself."""
        n = len(self.events.telemetry("gate", self.device))
        wait_until(lambda: len(self.events.telemetry("gate", self.device)) > n
                   and self.telemetry().get("offline") is offline, timeout,
                   f"the gate to report offline={offline}")

    def close(self) -> None:
        self.gate.stop()
        self.proxy.stop()


def test_gate_keeps_its_budget_and_recovers_through_network_faults(
    broker: Any, hub: HubProc, events: Events, tmp_path: Path
) -> None:
    lane = Lane(tmp_path, broker, hub, events)
    try:
        wait_until(lambda: events.online("gate", lane.device), 30, "gate online")
        wait_until(lambda: lane.telemetry().get("replica_refreshes", 0) >= 1, 20,
                   "replica synced")
        data, _ = lane.scan()
        assert (data["result"], data["offline"]) == ("admit", False), data

        lane.proxy.set("latency", latency_s=0.05)  # slow but inside the budget: still online
        data, _ = lane.scan()
        assert (data["result"], data["offline"]) == ("admit", False), data
        assert data["latency_ms"] <= BUDGET_MS + SLACK_MS, data

        faults: list[tuple[str, dict[str, float]]] = [
            ("latency", {"latency_s": 1.0}),
            ("reset", {}),
            ("blackhole", {}),
            ("half_open", {}),
            ("drip", {"drip_s": 0.05}),
        ]
        for mode, opts in faults:
            lane.proxy.set(mode, **opts)
            first, wall_ms = lane.scan()
            # The first scan that meets the trouble costs at most one budget, and is decided
            # offline from the replica (an admission, not a refusal).
            assert first["offline"] is True, (mode, first["latency_ms"], first)
            assert first["result"] == "admit", (mode, first)
            assert first["latency_ms"] <= BUDGET_MS + SLACK_MS, (mode, first)
            # Known down: the next visitor does not wait for the hub at all.
            second, _ = lane.scan()
            assert second["offline"] is True and second["result"] == "admit", (mode, second)
            assert second["latency_ms"] <= BUDGET_MS + SLACK_MS, (mode, second)
            lane.wait_state(offline=True)
            # The link heals: the gate notices by itself (its probe) and decides online again.
            lane.proxy.set("pass")
            lane.proxy.cut_all()
            lane.wait_state(offline=False)
            back, _ = lane.scan()
            assert (back["result"], back["offline"]) == ("admit", False), (mode, back)
            assert wall_ms < 10_000, (mode, wall_ms)

        # Every admission reaches the hub's ledger exactly once (offline ones by upload).
        admitted = {r["nonce"] for r in journal_rows(lane.data) if r["result"] == "admit"}
        assert len(admitted) == 2 + 3 * len(faults)

        def ledger() -> dict[str, int]:
            rows = sql(hub.db, "SELECT nonce, COUNT(*) FROM redemptions GROUP BY nonce")
            return {n: c for n, c in rows}

        wait_until(lambda: admitted <= set(ledger()), 30, "offline admissions uploaded")
        assert all(ledger()[n] == 1 for n in admitted)
        used = sql(hub.db, "SELECT COUNT(*) FROM codes WHERE entries_used > 0 AND ref LIKE '1:%'")
        assert used[0][0] == len(admitted)
    finally:
        lane.close()


class _Hub(BaseHTTPRequestHandler):
    """Answers every POST with a valid redemption answer (the contract's shape)."""

    def do_POST(self) -> None:
        import json

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"result": "admit", "reason": "ok", "offline": False,
                             "ticket": None, "first_used_at": None, "first_gate": None,
                             "nonce": body["nonce"], "redemption_id": 1, "detail": ""}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def test_online_check_has_a_total_deadline_not_a_per_read_one() -> None:
    """A trickling answer (one byte per 50 ms: every read succeeds) still costs one budget.

    Regression test for the bug the drill above found: ``requests``' timeout is per read.
    """
    import threading
    from datetime import UTC, datetime

    from gate.providers import CheckRequest, HubUnavailable, OnlineProvider

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = FaultProxy(server.server_address[1]).start()
    try:
        online = OnlineProvider(proxy.url, "g1", "tok", budget_s=0.25)
        req = CheckRequest("V1X", "in", "n1", datetime.now(UTC))
        assert online.check(req).offline is False  # the path works through the proxy
        proxy.set("drip", drip_s=0.05)
        t0 = time.monotonic()
        with pytest.raises(HubUnavailable):
            online.check(CheckRequest("V1X", "in", "n2", datetime.now(UTC)))
        assert time.monotonic() - t0 < 0.25 + 0.2
        proxy.set("pass")
        assert online.check(CheckRequest("V1X", "in", "n3", datetime.now(UTC))).offline is False
        assert online.http.headers["Authorization"] == "Bearer tok"  # fresh session, same token
    finally:
        proxy.stop()
        server.shutdown()
