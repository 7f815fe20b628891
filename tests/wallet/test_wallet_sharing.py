"""Sharing a coupon (where its series allows) and referrals (SQLite and PostgreSQL): the friend
accepts on their wallet page, the coupon moves, the sharer's code stops working at the gate;
a referred number that joins credits both sides once."""

from __future__ import annotations

import uuid

import httpx
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, ok, register, token
from sqlalchemy import select
from walletkit import PHONE_A, link, messages, wallets

from hub.db import Database
from hub.loyalty import ledger
from hub.models import Code
from hub.wallet.models import Referral, Share, WalletProfile
from venue.clock import FakeClock


def _gate(c: TestClient, gate_h: dict[str, str], code: str) -> dict:
    return ok(c.post("/api/v1/redemptions", headers=gate_h,  # type: ignore[no-any-return]
                     json={"code": code, "gate": "g1", "nonce": uuid.uuid4().hex}))


def test_shared_coupon_moves_and_the_old_code_stops_working(client: TestClient,
                                                            db: Database) -> None:
    w = wallets(client)
    gate_h = token(client, "gate", "g1")
    path_a, path_b = link(client, w.a), link(client, w.b)
    r = client.post(f"{path_a}/share", json={"ref": w.ticket_a["ref"]})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "not_shareable"
    ok(client.put(f"/api/v1/series/{w.tickets}/sharing", json={"shareable": True},
                  headers=ADMIN_H))
    assert 'data-share="' in client.get(path_a).text
    offer = ok(client.post(f"{path_a}/share", json={"ref": w.ticket_a["ref"]}), 201)
    assert offer["url"].startswith("http://127.0.0.1:8080/s/") and "<svg" in offer["qr"]
    share = offer["url"].rsplit("/", 1)[1]
    landing = client.get(f"/s/{share}")
    assert landing.status_code == 200 and "Concert" in landing.text
    assert w.ticket_a["code"] not in landing.text and "+380" not in landing.text
    # the friend's wallet offers it; the sharer cannot accept their own
    assert 'id="accept"' in client.get(f"{path_b}?accept={share}").text
    r = client.post(f"{path_a}/accept", json={"share": share})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "own_coupon"
    got = ok(client.post(f"{path_b}/accept", json={"share": share}), 201)
    new_ref = got["coupon"]["ref"]
    assert new_ref != w.ticket_a["ref"]
    assert ok(client.post(f"{path_b}/accept", json={"share": share}), 201)["repeated"]
    r = client.post(f"{link(client, w.a)}/accept", json={"share": share})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "share_used"
    # recorded: A's code revoked (with why), B holds the new one
    with db.read() as s:
        old = s.scalar(select(Code.status).where(Code.ref == w.ticket_a["ref"]))
        holder = s.scalar(select(Code.customer_id).where(Code.ref == new_ref))
        new_code = s.scalar(select(Code.code_text).where(Code.ref == new_ref))
        row = s.scalar(select(Share.status).where(Share.new_ref == new_ref))
    assert old == "revoked" and holder == w.b and row == "accepted"
    assert w.ticket_a["ref"] not in client.get(path_a).text
    page_b = client.get(path_b).text
    assert new_ref in page_b
    # at the gate: the sharer's QR is refused, the friend's admitted
    refused = _gate(client, gate_h, w.ticket_a["code"])
    assert refused["result"] == "reject" and refused["reason"] == "revoked"
    assert new_code is not None and _gate(client, gate_h, new_code)["result"] == "admit"
    # a used coupon cannot be shared
    r = client.post(f"{path_b}/share", json={"ref": new_ref})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "not_shareable"
    assert client.get("/s/" + "A" * 32).status_code == 404


def test_referral_join_credits_both_once(client: TestClient, db: Database) -> None:
    w = wallets(client)
    ok(client.put(f"/api/v1/businesses/{w.s.business}/wallet-rules", headers=ADMIN_H,
                  json={"referrer_points": 50, "referee_points": 20}))
    page = client.get(link(client, w.a)).text
    with db.read() as s:
        code = s.scalar(select(WalletProfile.referral_code)
                        .where(WalletProfile.customer_id == w.a))
    assert code and f"/r/{code}" in page
    assert "Join" in client.get(f"/r/{code}").text
    assert client.get("/r/NOSUCHCODE").status_code == 404
    friend = "+380675556677"
    answers = [client.post(f"/r/{code}/join", json={"phone": friend, "consent": True})
               for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202]
    # an existing customer joining gets the same answer (no oracle) and no bonus
    same = client.post(f"/r/{code}/join", json={"phone": PHONE_A, "consent": True})
    assert same.status_code == 202 and same.json() == answers[0].json()
    with db.read() as s:
        ref = s.scalar(select(Referral.referee).where(Referral.referrer == w.a))
        assert ref is not None
        assert ledger.derived_points(s, w.s.business, w.a) == 50
        assert ledger.derived_points(s, w.s.business, ref) == 20
        assert s.scalar(select(Referral.id).where(Referral.referee == w.a)) is None
    assert len(messages(db, ref, "wallet_link")) >= 1
    assert len(messages(db, w.a, "referral")) == 1
    r = client.post(f"/r/{code}/join", json={"phone": friend, "consent": False})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "consent"
    assert client.post("/r/NOSUCHCODE/join",
                       json={"phone": friend, "consent": True}).status_code == 404


def test_referral_from_the_kiosk(client: TestClient, db: Database,
                                 clock: FakeClock) -> None:
    w = wallets(client)
    ok(client.put(f"/api/v1/businesses/{w.s.business}/wallet-rules", headers=ADMIN_H,
                  json={"referrer_points": 30, "referee_points": 10}))
    client.get(link(client, w.a))  # makes A's profile and code
    with db.read() as s:
        code = s.scalar(select(WalletProfile.referral_code)
                        .where(WalletProfile.customer_id == w.a))
    new = register(client, w.s, "+380677778899")["customer"]
    body = {"customer": new, "code": code}
    first = ok(client.post("/api/v1/referrals", json=body, headers=w.s.kiosk_h), 201)
    assert first["credited"] == {str(w.s.business): {"referrer": 30, "referee": 10}}
    assert ok(client.post("/api/v1/referrals", json=body, headers=w.s.kiosk_h), 201) == first
    with db.read() as s:
        assert ledger.derived_points(s, w.s.business, w.a) == 30
        assert ledger.derived_points(s, w.s.business, new) == 10
    r = client.post("/api/v1/referrals", json={"customer": w.a, "code": code},
                    headers=w.s.kiosk_h)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "self_referral"
    client.get(link(client, w.b))
    with db.read() as s:
        code_b = s.scalar(select(WalletProfile.referral_code)
                          .where(WalletProfile.customer_id == w.b))
    r = client.post("/api/v1/referrals", json={"customer": new, "code": code_b},
                    headers=w.s.kiosk_h)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "already_referred"
    assert client.post("/api/v1/referrals", json={"customer": new, "code": "ZZZZZZZZ"},
                       headers=w.s.kiosk_h).status_code == 404
    r = client.post("/api/v1/referrals", json={"customer": new, "code": "no spaces"},
                    headers=w.s.kiosk_h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "code"
    # only a new customer can be referred
    clock.advance(8 * 24 * 3600)
    late = register(client, w.s, "+380671110000")["customer"]
    clock.advance(8 * 24 * 3600)
    r = client.post("/api/v1/referrals", json={"customer": late, "code": code},
                    headers=w.s.kiosk_h)
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "not_new"


def test_concurrent_accepts_move_the_coupon_once(live: httpx.Client, db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    w = wallets(live)
    c = register(live, w.s, "+380679990011")["customer"]
    ok(live.put(f"/api/v1/series/{w.tickets}/sharing", json={"shareable": True},
                headers=ADMIN_H))
    offer = ok(live.post(f"{link(live, w.a)}/share", json={"ref": w.ticket_a["ref"]}), 201)
    share = offer["url"].rsplit("/", 1)[1]
    paths = [link(live, w.b), link(live, c)]

    def accept(i: int) -> tuple[int, str]:
        r = live.post(f"{paths[i % 2]}/accept", json={"share": share})
        return r.status_code, (r.json().get("coupon") or {}).get("ref", "")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(accept, range(12)))
    won = {ref for status, ref in answers if status == 201}
    assert len(won) == 1 and sum(1 for s, _ in answers if s == 201) == 6
    assert sum(1 for s, _ in answers if s == 409) == 6
    with db.read() as s:
        holders = list(s.scalars(select(Code.customer_id).where(Code.series_id == w.tickets,
                                                                Code.status == "issued")))
    assert sorted(holders) in (sorted([w.b, w.b]), sorted([w.b, c]))  # B's own + the moved one
