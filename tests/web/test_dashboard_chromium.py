"""The operators' dashboard in headless Chromium over a live hub, a real Mosquitto and a gate
simulated by a real MqttLink: login, live device rows, an event over server-sent events, the
gate's Open button round trip, the gate going offline, no console errors, a screenshot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import loyaltykit
import pytest
from hubkit import ADMIN_H, LiveServer, make_db, start_server, token
from playwright.sync_api import expect
from webkit import PageProblems

from hub.api.app import create_app
from hub.db import Database
from hub.ingest import MqttIngest
from hub.ops.live import OpsLive
from venue.clock import FakeClock
from venue.config import MqttSection
from venue.messages import Command
from venue.mqtt import MqttLink
from venue.topics import DeviceRef

SITE = "s1"
PHONE = "+380671234567"
pytestmark = pytest.mark.slow


@dataclass
class Venue:
    db: Database
    clock: FakeClock
    server: LiveServer
    gate: MqttLink
    opened: list[Command]


@pytest.fixture
def venue(broker: Any, tmp_path: Path) -> Iterator[Venue]:
    clock = FakeClock()
    db = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", clock)
    settings = MqttSection(url=broker.url)
    hub_link = MqttLink(DeviceRef(SITE, "hub", "hub1"), settings, manual_ack=True, clock=clock,
                        clean_start=True)
    ingest = MqttIngest(db, hub_link, clock=clock)
    ingest.start()
    hub_link.start()
    live = OpsLive(settings, clock=clock)
    live.start()
    assert live.wait_ready(10)
    app = create_app(db, clock=clock, token_ttl=0.0)
    app.state.hub.extra["ops"] = live
    server = start_server(app)
    opened: list[Command] = []
    gate = MqttLink(DeviceRef(SITE, "gate", "gate-1"), settings, clock=clock,
                    client_id="test-gate-1", status_extra=lambda: {"relay": "closed"})

    def open_(cmd: Command) -> dict[str, Any]:
        opened.append(cmd)
        return {"opened": True}

    gate.on_command("open", open_)
    gate.start()
    assert gate.wait_subscribed(10)
    try:
        yield Venue(db, clock, server, gate, opened)
    finally:
        gate.stop(1.0)
        server.stop()
        live.stop()
        ingest.stop()
        hub_link.stop(1.0)
        db.dispose()


def _seed_scans(v: Venue) -> None:
    """Two admissions and a rejection at gate-1, for the throughput and occupancy charts."""
    with httpx.Client(base_url=v.server.url, headers=ADMIN_H) as http:
        http.post("/api/v1/series", json={"name": "Gala", "issue_count": 2}).raise_for_status()
        for i, serial in enumerate((0, 1, 0)):
            code = http.get(f"/api/v1/codes/1:{serial}").json()["code"]
            http.post("/api/v1/redemptions", json={
                "code": code, "gate": "gate-1", "nonce": f"seed-{i}"}).raise_for_status()


def _queue_an_order(v: Venue) -> str:
    """A registered customer's kiosk order waiting for the register; returns its number."""
    with httpx.Client(base_url=v.server.url) as http:
        cafe = loyaltykit.seed(http)
        customer = loyaltykit.register(http, cafe, PHONE)["customer"]
        check = loyaltykit.ok(http.post("/api/v1/checks", headers=cafe.kiosk_h, json={
            "customer": customer, "business": cafe.business,
            "lines": [{"item": cafe.latte, "qty": 2}], "idempotency_key": "k1-order-1"}), 201)
    return str(check["number"])


def test_dashboard_shows_live_devices_events_and_opens_a_gate(
        venue: Venue, browser: Any, artifacts: Path) -> None:
    _seed_scans(venue)
    order = _queue_an_order(venue)
    operator = token(venue.db, venue.clock, "operator", "desk-1")["Authorization"][7:]
    venue.gate.publish_telemetry({"outbox_depth": 3, "scans_per_min": 12})
    problems = PageProblems()
    page = problems.watch(browser.new_page(viewport={"width": 1400, "height": 1100}))
    try:
        page.goto(f"{venue.server.url}/dashboard")
        page.fill("#login-token", operator)
        page.click("button[type=submit]")
        row = page.locator('tr[data-device="s1/gate/gate-1"]')
        row.wait_for(timeout=10_000)
        expect(row.locator(".state")).to_have_text("online")
        assert page.locator("#who").inner_text() == "operator · desk-1"
        expect(page.locator("#live")).to_have_class("live-live", timeout=10_000)

        # An event published by the gate arrives over the stream.
        venue.gate.publish_event("gate.scan", {"result": "reject", "reason": "expired",
                                               "note": PHONE})
        scan = page.locator('#events li[data-type="gate.scan"]')
        scan.first.wait_for(timeout=10_000)
        assert "expired" in scan.first.inner_text()

        # Telemetry and the stored scans show up in the row and the charts.
        expect(row.locator("td").nth(5)).to_have_text("3", timeout=10_000)
        assert page.locator("#throughput rect").count() >= 1
        expect(page.locator("#occupancy-now")).to_contain_text("2 inside now")
        expect(page.locator("#queue")).to_contain_text(order)
        expect(page.locator("#queue")).to_contain_text("110.00")

        # The Open button sends `open` through the hub and shows the answer.
        row.locator("button[data-open]").click()
        expect(page.locator("#command-result")).to_have_text("open → gate-1: ok",
                                                             timeout=10_000)
        assert len(venue.opened) == 1 and venue.opened[0].by == "operator:desk-1"
        page.locator("#commands tr").first.wait_for(timeout=10_000)
        assert "operator:desk-1" in page.locator("#commands").inner_text()

        page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

        # The gate goes away: its row turns offline and an alert says so.
        venue.gate.stop(1.0)
        expect(row.locator(".state")).to_have_text("offline", timeout=10_000)
        page.locator('#alerts li[data-kind="device_offline"]').wait_for(timeout=10_000)
        page.screenshot(path=str(artifacts / "dashboard-offline.png"), full_page=True)

        body = page.content()
        assert "671234567" not in body, "a phone number reached the page"
        assert problems.console == [] and problems.page == [], problems
    finally:
        page.close()
    assert (artifacts / "dashboard.png").stat().st_size > 10_000


def test_bad_or_wrong_tokens_are_refused(venue: Venue, browser: Any) -> None:
    problems = PageProblems()
    page = problems.watch(browser.new_page())
    try:
        page.goto(f"{venue.server.url}/dashboard")
        page.fill("#login-token", "not-a-token")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("Refused: unknown or revoked")
        assert page.locator("#app").is_hidden()
        validator = token(venue.db, venue.clock, "validator", "phone-1")["Authorization"][7:]
        page.fill("#login-token", validator)
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text(
            "this page is for operator or admin tokens")
        assert page.locator("#app").is_hidden()
        assert problems.page == []
    finally:
        page.close()
    with httpx.Client(base_url=venue.server.url) as http:
        assert http.get("/api/v1/ops/overview").status_code == 401
        assert http.get("/api/v1/events/stream",
                        headers={"Authorization": "Bearer nope"}).status_code == 401
        page_html = http.get("/dashboard")
        assert page_html.status_code == 200
        assert "default-src 'self'" in page_html.headers["content-security-policy"]
        assert http.get("/ops/static/../../auth.py").status_code == 404


def test_without_mqtt_the_dashboard_says_live_events_are_unavailable(
        browser: Any, tmp_path: Path) -> None:
    clock = FakeClock()
    db = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", clock)
    server = start_server(create_app(db, clock=clock, token_ttl=0.0))
    problems = PageProblems()
    page = problems.watch(browser.new_page())
    try:
        page.goto(f"{server.url}/dashboard")
        page.fill("#login-token", token(db, clock, "operator", "desk")["Authorization"][7:])
        page.click("button[type=submit]")
        expect(page.locator("#live")).to_contain_text("live events unavailable")
        expect(page.locator("#device-count")).to_have_text("0 of 0 online")
        assert problems.console == [] and problems.page == [], problems
    finally:
        page.close()
        server.stop()
        db.dispose()
