"""The steward page in headless Chromium at a phone's size over a live hub: log in with a validator
token, check a code by its serial (not redeemed), redeem it, redeem it again ("ALREADY USED" with
when and where), the code's history, a full code typed in, refusals, no console errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubkit import ADMIN_H, LiveServer, make_db, start_server, token
from playwright.sync_api import expect
from webkit import PageProblems

from hub.api.app import create_app
from hub.db import Database
from venue.clock import FakeClock

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}


@dataclass
class Hub:
    db: Database
    clock: FakeClock
    server: LiveServer
    codes: list[dict[str, Any]]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    clock = FakeClock()
    db = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", clock)
    server = start_server(create_app(db, clock=clock, token_ttl=0.0))
    try:
        with httpx.Client(base_url=server.url, headers=ADMIN_H) as http:
            http.post("/api/v1/series", json={"name": "Summer Gala", "issue_count": 2}
                      ).raise_for_status()
            codes = [http.get(f"/api/v1/codes/1:{i}").json() for i in range(2)]
        yield Hub(db, clock, server, codes)
    finally:
        server.stop()
        db.dispose()


def _login(page: Any, hub: Hub, who: str = "phone-1") -> None:
    validator = token(hub.db, hub.clock, "validator", who)["Authorization"][7:]
    page.goto(f"{hub.server.url}/steward")
    page.fill("#login-token", validator)
    page.click("button[type=submit]")
    expect(page.locator("#code")).to_be_visible()


def test_check_then_redeem_then_already_used(hub: Hub, browser: Any, artifacts: Path) -> None:
    problems = PageProblems()
    page = problems.watch(browser.new_page(viewport=PHONE, device_scale_factor=2))
    serial = hub.codes[0]["short_serial"]
    try:
        _login(page, hub)
        assert page.locator("#who").inner_text() == "validator · phone-1"
        can_scan = page.evaluate("'BarcodeDetector' in window")
        assert page.locator("#scan").is_visible() == bool(can_scan)

        verdict = page.locator("#verdict")
        page.fill("#code", serial)
        page.click("#check")
        expect(verdict).to_have_attribute("data-result", "check")
        expect(page.locator("#verdict-big")).to_have_text("VALID")
        expect(page.locator("#verdict-detail")).to_contain_text("checked only: not redeemed")
        expect(page.locator("#history-ref")).to_contain_text("1:0 · issued · used 0")

        page.click("#redeem")
        expect(verdict).to_have_attribute("data-result", "admit")
        expect(page.locator("#verdict-big")).to_have_text("ADMIT")
        expect(page.locator("#verdict-detail")).to_contain_text("Summer Gala")
        expect(page.locator("#history-ref")).to_contain_text("used 1")
        page.screenshot(path=str(artifacts / "steward-admit.png"))

        page.click("#redeem")
        expect(verdict).to_have_attribute("data-result", "reject")
        expect(page.locator("#verdict-big")).to_have_text("ALREADY USED")
        expect(page.locator("#verdict-detail")).to_contain_text("first used")
        expect(page.locator("#verdict-detail")).to_contain_text("at phone-1")
        history = page.locator("#history")
        expect(history).to_contain_text("redeem admit (ok) at phone-1")
        expect(history).to_contain_text("redeem reject (already_used) at phone-1")
        expect(history).to_contain_text("check admit (ok) at phone-1")
        page.screenshot(path=str(artifacts / "steward-already-used.png"))

        # The full control code (what a QR holds) works too, and a typo is refused clearly.
        page.fill("#code", hub.codes[1]["code"])
        page.click("#redeem")
        expect(page.locator("#verdict-big")).to_have_text("ADMIT")
        page.fill("#code", "7-42-9")
        page.click("#check")
        expect(page.locator("#verdict-big")).to_have_text("NOT A VALID CODE")
        assert problems.console == [] and problems.page == [], problems
    finally:
        page.close()
    with httpx.Client(base_url=hub.server.url, headers=ADMIN_H) as http:
        code = http.get("/api/v1/codes/1:0").json()
    assert code["entries_used"] == 1
    assert [a["mode"] for a in code["attempts"]] == ["check", "redeem", "redeem"]


def test_a_phone_bound_ticket_tells_the_steward_to_check_the_holder(
    hub: Hub, browser: Any, artifacts: Path
) -> None:
    phone = "+380671234567"
    with httpx.Client(base_url=hub.server.url, headers=ADMIN_H) as http:
        sid = http.post("/api/v1/series", json={"name": "Named seat", "issue_limit": 10}
                        ).json()["id"]
        http.put(f"/api/v1/series/{sid}/sales-rules", json={"bound_to_phone": True}
                 ).raise_for_status()
        http.post("/api/v1/outlets", json={"id": "o1", "name": "Agency"}).raise_for_status()
        http.put(f"/api/v1/outlets/o1/series/{sid}", json={"quota": 5, "price": "10.00"}
                 ).raise_for_status()
        sale = http.post("/api/v1/outlet/sales", headers=token(hub.db, hub.clock, "outlet", "o1"),
                         json={"series": sid, "qty": 1, "customer_phone": phone,
                               "idempotency_key": "sale-1"})
        sale.raise_for_status()
        code = sale.json()["codes"][0]["code"]
    problems = PageProblems()
    page = problems.watch(browser.new_page(viewport=PHONE, device_scale_factor=2))
    try:
        _login(page, hub)
        page.fill("#code", code)
        page.click("#redeem")
        expect(page.locator("#verdict-big")).to_have_text("ADMIT")
        detail = page.locator("#verdict-detail")
        expect(detail).to_contain_text("ASK THE HOLDER'S PHONE: last digits of +380")
        expect(detail).to_contain_text("67")
        assert "1234567" not in page.content()
        page.screenshot(path=str(artifacts / "steward-check-holder.png"))
        assert problems.console == [] and problems.page == [], problems
    finally:
        page.close()


def test_refuses_bad_tokens_and_other_roles(hub: Hub, browser: Any) -> None:
    problems = PageProblems()
    page = problems.watch(browser.new_page(viewport=PHONE))
    try:
        page.goto(f"{hub.server.url}/steward")
        page.fill("#login-token", "stolen-or-typo")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("Refused: unknown or revoked")
        assert page.locator("#app").is_hidden()
        kiosk = token(hub.db, hub.clock, "kiosk", "kiosk-1")["Authorization"][7:]
        page.fill("#login-token", kiosk)
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("validator or admin")
        assert page.locator("#app").is_hidden()
        assert problems.page == []
    finally:
        page.close()
