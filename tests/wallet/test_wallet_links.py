"""Wallet links, one-time codes and the wallet page over HTTP (SQLite and PostgreSQL): the token
is the only key, expired and tampered links get a clear page, one-time codes are hashed,
limited and answer the same for strangers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, key, ok, token
from sqlalchemy import select
from walletkit import PHONE_A, PHONE_B, link, messages, wallet_app, wallets

from hub.db import Database
from hub.wallet.models import WalletOtp
from venue.clock import FakeClock


def test_page_shows_balances_tickets_and_hides_what_the_series_hides(
        client: TestClient) -> None:
    w = wallets(client)
    r = client.get(link(client, w.a))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["referrer-policy"] == "no-referrer"
    page = r.text
    assert "+380 •• ••• •• 67" in page
    assert PHONE_A not in page and PHONE_A[1:] not in page
    assert w.ticket_a["short_serial"] in page and 'class="segno"' in page
    assert w.ticket_a["ref"] in page
    # the on_redeem coupon is listed without its code or serial
    assert w.hidden_a["ref"] in page and w.hidden_a["short_serial"] not in page
    assert w.hidden_a["code"] not in page and "shown once it has been used" in page
    # nothing of the other customer
    assert w.ticket_b["ref"] not in page and w.ticket_b["short_serial"] not in page
    assert client.get("/w/sw.js").headers["content-type"].startswith("text/javascript")


def test_tampered_expired_and_swapped_links_are_refused_with_a_page(
        client: TestClient, clock: FakeClock) -> None:
    w = wallets(client)
    good = link(client, w.a)
    token_a = good[len("/w/"):]
    prefix, cust, issued, expires, mac = token_a.split(".")
    tampered = [
        f"{prefix}.{cust}.{issued}.{expires}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        f"{prefix}.{w.b}.{issued}.{expires}.{mac}",  # another customer's id, same MAC
        f"{prefix}.{cust}.{issued}.{int(expires) + 10**6}.{mac}",  # a longer life
        "garbage", "w1....", "x" * 300, w.a, w.b,
    ]
    for bad in tampered:
        r = client.get(f"/w/{bad}")
        assert r.status_code == 403, bad
        assert "This link is not valid" in r.text and 'id="request"' in r.text
        assert w.ticket_a["short_serial"] not in r.text and w.ticket_b["ref"] not in r.text
    clock.advance(30 * 24 * 3600 + 1)
    r = client.get(good)
    assert r.status_code == 410 and "This link has expired" in r.text
    assert w.ticket_a["ref"] not in r.text
    # a fresh link works again
    assert client.get(link(client, w.a)).status_code == 200


def test_no_id_in_a_wallet_url_reaches_another_customer(client: TestClient,
                                                        db: Database) -> None:
    w = wallets(client)
    path_a = link(client, w.a)
    promo = ok(client.post("/api/v1/promotions", headers=ADMIN_H,
                           json={"business": w.s.business, "title": "Gift",
                                 "series": w.s.series}), 201)
    ok(client.put(f"/api/v1/series/{w.tickets}/sharing", json={"shareable": True},
                  headers=ADMIN_H))
    # B's ticket ref through A's wallet: unknown there
    r = client.post(f"{path_a}/share", json={"ref": w.ticket_b["ref"]})
    assert r.status_code == 404
    # a claim through A's link is A's claim, whatever else the request says
    r = client.post(f"{path_a}/promotions/{promo['id']}/claim",
                    json={"idempotency_key": key(), "customer": w.b})
    assert r.status_code == 422  # no customer field at all
    ok(client.post(f"{path_a}/promotions/{promo['id']}/claim",
                   json={"idempotency_key": key()}), 201)
    r = client.post(f"/api/v1/promotions/{promo['id']}/claim", headers=w.s.kiosk_h,
                    json={"customer": w.b, "idempotency_key": key()})
    assert r.status_code == 201  # B had claimed nothing
    # every action with a forged token: refused, nothing done
    forged = f"/w/w1.{w.b}.1.9999999999.AAAAAAAAAAAAAAAAAAAAAA"
    for path, body in ((f"{forged}/share", {"ref": w.ticket_b["ref"]}),
                       (f"{forged}/birthday", {"month": 1, "day": 2}),
                       (f"{forged}/accept", {"share": "A" * 32}),
                       (f"{forged}/promotions/{promo['id']}/claim",
                        {"idempotency_key": key()})):
        r = client.post(path, json=body)
        assert r.status_code == 403 and r.json()["detail"]["reason"] == "tampered", path
    assert client.get(f"{path_a}?accept={'A' * 32}").status_code == 200


def test_staff_issue_and_send_a_link(client: TestClient, db: Database) -> None:
    w = wallets(client)
    reg = token(client, "register", "pos9")
    out = ok(client.post(f"/api/v1/customers/{w.a}/wallet-link", json={}, headers=reg), 201)
    assert out["url"].startswith("http://127.0.0.1:8080/w/w1.")
    sent = messages(db, w.a, "wallet_link")
    assert len(sent) == 1 and out["url"] in sent[0]
    assert client.post(f"/api/v1/customers/{w.a}/wallet-link", json={},
                       headers=w.s.kiosk_h).status_code == 403
    assert client.post("/api/v1/customers/c_0000000000000000/wallet-link", json={},
                       headers=reg).status_code == 404


def _otp(db: Database, customer: str) -> str:
    text = messages(db, customer, "wallet_code")[-1]
    return text.split("code: ")[1][:6]


def test_one_time_code_opens_a_fresh_link(client: TestClient, db: Database,
                                          clock: FakeClock) -> None:
    w = wallets(client)
    known = client.post("/w/request", json={"phone": "067 123 45 67"})
    stranger = client.post("/w/request", json={"phone": "+380509998877"})
    assert known.status_code == stranger.status_code == 202
    assert known.json() == stranger.json()
    code = _otp(db, w.a)
    with db.read() as s:
        hashes = list(s.scalars(select(WalletOtp.code_hash)))
    assert len(hashes) == 2 and all(code not in h for h in hashes)
    assert client.post("/w/verify", json={"phone": PHONE_A, "otp": "000000" if code != "000000"
                                          else "111111"}).status_code == 403
    r = client.post("/w/verify", json={"phone": PHONE_A, "otp": code})
    assert r.status_code == 303 and r.headers["location"].startswith("/w/w1.")
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and w.ticket_a["short_serial"] in page.text
    # used: a second time refused; a stranger's number never verifies
    assert client.post("/w/verify", json={"phone": PHONE_A, "otp": code}).status_code == 403
    assert client.post("/w/verify", json={"phone": "+380509998877",
                                          "otp": "123456"}).status_code == 403
    # bad input: 422 naming the field
    r = client.post("/w/verify", json={"phone": PHONE_A, "otp": "12ab56"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "otp"
    r = client.post("/w/request", json={"phone": "12"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "phone"


def test_one_time_code_expires_and_allows_few_guesses(client: TestClient, db: Database,
                                                      clock: FakeClock) -> None:
    w = wallets(client)
    ok(client.post("/w/request", json={"phone": PHONE_B}), 202)
    code = _otp(db, w.b)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert client.post("/w/verify", json={"phone": PHONE_B, "otp": wrong}).status_code == 403
    assert client.post("/w/verify", json={"phone": PHONE_B, "otp": code}).status_code == 403
    clock.advance(601)
    ok(client.post("/w/request", json={"phone": PHONE_B}), 202)
    code = _otp(db, w.b)
    clock.advance(601)
    assert client.post("/w/verify", json={"phone": PHONE_B, "otp": code}).status_code == 403
    # at most three codes per number within otp_ttl_s: the fourth ask sends nothing
    for _ in range(4):
        ok(client.post("/w/request", json={"phone": PHONE_B}), 202)
    assert len(messages(db, w.b, "wallet_code")) == 2 + 3


def test_requests_per_client_are_limited(db: Database, clock: FakeClock) -> None:

    with TestClient(wallet_app(db, clock, requests_per_ip_per_min=3)) as c:
        codes = [c.post("/w/request", json={"phone": PHONE_A}).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    clock.advance(timedelta(minutes=1).total_seconds())


def test_staff_revoke_every_link_of_a_customer(client: TestClient, clock: FakeClock) -> None:
    w = wallets(client)
    old_a, old_b = link(client, w.a), link(client, w.b)
    op = token(client, "operator", "op1")
    out = ok(client.post(f"/api/v1/customers/{w.a}/wallet-links/revoke", headers=op))
    assert out["customer"] == w.a
    r = client.get(old_a)
    assert r.status_code == 410 and "no longer works" in r.text
    assert w.ticket_a["ref"] not in r.text
    assert client.get(old_b).status_code == 200  # only A's links
    fresh = link(client, w.a)  # the same second: works
    assert client.get(fresh).status_code == 200
    clock.advance(5)
    assert client.get(fresh).status_code == 200 and client.get(old_a).status_code == 410
    assert client.post(f"/api/v1/customers/{w.a}/wallet-links/revoke",
                       headers=w.s.kiosk_h).status_code == 403
    assert client.post("/api/v1/customers/c_0000000000000000/wallet-links/revoke",
                       headers=op).status_code == 404
