"""The wallet page in Debian's Chromium (Playwright, headless) against a live hub: the ticket's
QR, read back from a screenshot with zxing-cpp, is admitted by the gate's own online provider;
the full-screen gate view; the page and its QR load with the network off (service worker);
claiming a promotion; expired and tampered links get a clear page."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubkit import make_db, start_server
from loyaltykit import ADMIN_H, ok, token
from PIL import Image
from walletkit import link, wallet_app, wallets

from gate.providers import CheckRequest, OnlineProvider
from venue.clock import FakeClock
from venue.decoder import Decoder
from venue.reasons import Result


@pytest.fixture
def hub(tmp_path: Path, clock: FakeClock) -> Iterator[str]:
    db = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", clock)
    server = start_server(wallet_app(db, clock))
    try:
        yield server.url
    finally:
        server.stop()
        db.dispose()


def _decode(png: bytes) -> list[str]:
    return [f.text for f in Decoder().decode(Image.open(io.BytesIO(png)))]


def _phone(browser: Any) -> Any:
    return browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                               has_touch=True, service_workers="allow")


def test_ticket_qr_from_the_page_is_admitted_by_the_gate_and_works_offline(
        browser: Any, hub: str, clock: FakeClock, artifacts: Path) -> None:
    with httpx.Client(base_url=hub, timeout=30) as c:
        w = wallets(c)
        gate_token = token(c, "gate", "g1")["Authorization"].split()[1]
        promo = ok(c.post("/api/v1/promotions", headers=ADMIN_H,
                          json={"business": w.s.business, "title": "Spring gift",
                                "text": "A coffee on us", "series": w.s.series}), 201)
        path = link(c, w.a)
    ctx = _phone(browser)
    try:
        page = ctx.new_page()
        resp = page.goto(hub + path)
        assert resp is not None and resp.status == 200
        page.wait_for_function("document.body.dataset.offline === 'ready'", timeout=15000)
        ticket = page.locator(f'.ticket[data-ref="{w.ticket_a["ref"]}"]')
        assert ticket.locator(".serial").inner_text() == w.ticket_a["short_serial"]
        shot = ticket.screenshot(path=str(artifacts / "wallet-ticket.png"))
        assert _decode(shot) == [w.ticket_a["code"]]
        assert "•• ••• ••" in page.inner_text("header")
        # the full-screen view for the gate: white, the same QR, big
        ticket.get_by_text("Show at the gate").click()
        gate_view = page.locator("#gate")
        gate_view.wait_for(state="visible")
        assert page.evaluate("getComputedStyle(document.getElementById('gate'))"
                             ".backgroundColor") == "rgb(255, 255, 255)"
        big = gate_view.screenshot(path=str(artifacts / "wallet-gate-view.png"))
        scanned = _decode(big)
        assert scanned == [w.ticket_a["code"]]
        gate_view.click()
        gate_view.wait_for(state="hidden")
        # the gate's own online provider asks the hub: admitted once, then already used
        gate = OnlineProvider(hub, "g1", gate_token, budget_s=10)
        first = gate.check(CheckRequest(scanned[0], "in", uuid.uuid4().hex, clock.now()))
        assert first.result is Result.ADMIT and first.ticket_ref == w.ticket_a["ref"]
        again = gate.check(CheckRequest(scanned[0], "in", uuid.uuid4().hex, clock.now()))
        assert again.result is Result.REJECT and str(again.reason) == "already_used"
        # offline: the service worker serves the cached page with its QR codes
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
        ctx.set_offline(True)
        page.reload()
        cached = page.locator(f'.ticket[data-ref="{w.ticket_a["ref"]}"]')
        assert _decode(cached.screenshot()) == [w.ticket_a["code"]]
        page.screenshot(path=str(artifacts / "wallet-offline.png"), full_page=True)
        ctx.set_offline(False)
        # claim the promotion from the page: once
        page.reload()
        button = page.locator(f'[data-claim="{promo["id"]}"]')
        button.click()
        page.wait_for_selector("text=Claimed", timeout=15000)
        assert page.locator(f'[data-claim="{promo["id"]}"]').count() == 0
        assert page.locator(".ticket[data-ref]").filter(has_text="Free coffee").count() == 1
    finally:
        ctx.close()


def test_expired_and_tampered_links_get_a_clear_page(browser: Any, hub: str,
                                                     clock: FakeClock, artifacts: Path) -> None:
    with httpx.Client(base_url=hub, timeout=30) as c:
        w = wallets(c)
        path = link(c, w.a)
    ctx = _phone(browser)
    try:
        page = ctx.new_page()
        tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
        resp = page.goto(hub + tampered)
        assert resp is not None and resp.status == 403
        assert "This link is not valid" in page.inner_text("h1")
        assert page.locator("#request input[name=phone]").is_visible()
        assert w.ticket_a["ref"] not in page.content()
        clock.advance(30 * 24 * 3600 + 1)
        resp = page.goto(hub + path)
        assert resp is not None and resp.status == 410
        assert "This link has expired" in page.inner_text("h1")
        page.screenshot(path=str(artifacts / "wallet-expired.png"))
        assert w.ticket_a["short_serial"] not in page.content()
    finally:
        ctx.close()


def test_a_friend_accepts_a_shared_ticket_and_the_sharers_qr_stops_working(
        browser: Any, hub: str, clock: FakeClock, artifacts: Path) -> None:
    with httpx.Client(base_url=hub, timeout=30) as c:
        w = wallets(c)
        ok(c.put(f"/api/v1/series/{w.tickets}/sharing", json={"shareable": True},
                 headers=ADMIN_H))
        gate_token = token(c, "gate", "g1")["Authorization"].split()[1]
        path_a, path_b = link(c, w.a), link(c, w.b)
    sharer, friend = _phone(browser), _phone(browser)
    try:
        pa = sharer.new_page()
        pa.goto(hub + path_a)
        ticket = pa.locator(f'.ticket[data-ref="{w.ticket_a["ref"]}"]')
        ticket.get_by_role("button", name="Share").click()
        url = ticket.locator(".shared input").input_value()
        assert "/s/" in url and _decode(ticket.locator(".shared").screenshot()) == [url]
        pb = friend.new_page()
        pb.goto(hub + path_b)  # the friend's browser knows their wallet
        pb.goto(hub + url[url.index("/s/"):])
        pb.wait_for_url("**accept=**")
        pb.locator("#accept").click()
        pb.wait_for_function("!location.search", timeout=15000)
        tickets = pb.locator(".ticket[data-ref]").filter(has_text="Concert")
        tickets.first.wait_for()
        assert tickets.count() == 2
        refs = {tickets.nth(i).get_attribute("data-ref") for i in range(2)}
        new_ref = (refs - {w.ticket_b["ref"]}).pop()
        assert new_ref is not None
        shot = pb.locator(f'.ticket[data-ref="{new_ref}"]').screenshot(
            path=str(artifacts / "wallet-shared-ticket.png"))
        friends_code = _decode(shot)
        pa.reload()
        assert pa.locator(f'.ticket[data-ref="{w.ticket_a["ref"]}"]').count() == 0
        gate = OnlineProvider(hub, "g1", gate_token, budget_s=10)
        old = gate.check(CheckRequest(w.ticket_a["code"], "in", uuid.uuid4().hex, clock.now()))
        assert old.result is Result.REJECT and str(old.reason) == "revoked"
        new = gate.check(CheckRequest(friends_code[0], "in", uuid.uuid4().hex, clock.now()))
        assert new.result is Result.ADMIT and new.ticket_ref == new_ref
    finally:
        sharer.close()
        friend.close()


def test_a_new_link_by_phone_number_and_one_time_code(browser: Any, hub: str,
                                                      tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    with httpx.Client(base_url=hub, timeout=30) as c:
        w = wallets(c)
    ctx = _phone(browser)
    try:
        page = ctx.new_page()
        page.goto(hub + "/w")
        page.fill("#request input", "067 123 45 67")
        page.locator("#request button").click()
        page.locator("#verify").wait_for(state="visible")
        engine = create_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
        with engine.connect() as conn:
            sent = conn.execute(text("SELECT text FROM notify_messages WHERE kind = "
                                     "'wallet_code'")).scalars().all()
        engine.dispose()
        assert len(sent) == 1
        page.fill("#verify input", sent[0].split("code: ")[1][:6])
        page.locator("#verify button").click()
        page.wait_for_url("**/w/w1.**")
        assert page.locator(f'.ticket[data-ref="{w.ticket_a["ref"]}"]').count() == 1
        assert "+380 671234567" not in page.content() and "+380671234567" not in page.content()
    finally:
        ctx.close()
