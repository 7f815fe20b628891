"""Fiscal-QR claims: the parser reads the Ukrainian tax service's check URL and the generic
query form; over the API (SQLite and PostgreSQL) a check earns the business's points per amount
once, a second claim by anyone is 409 ``already_claimed``, a repeated key returns the first
answer, an unreadable QR is a 422 on ``qr``; racing customers claim one check once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient
from loyaltykit import key, ok, points, register, seed

from hub.loyalty.fiscal import FiscalFormat, Unreadable, parse_qr

UA = ("https://cabinet.tax.gov.ua/cashregs/check?fn=4000123456&id=98765&sm=250.50"
      "&date=20261120&time=134501")


def test_parse_the_tax_service_url_and_the_generic_form() -> None:
    c = parse_qr(UA)
    assert (c.format, c.register, c.number, c.amount, c.date) == (
        "ua", "4000123456", "98765", Decimal("250.50"), "20261120")
    assert c.key == "ua:4000123456:98765:20261120"
    assert parse_qr(UA.replace("id=98765", "no=98765")).key == c.key
    fns = parse_qr("t=20261120T1345&s=99.90&fn=9280440300000001&i=1234&fp=111&n=1")
    assert (fns.format, fns.amount, fns.date) == ("fns", Decimal("99.90"), "20261120")
    generic = parse_qr("https://receipts.example.com/r?fn=77&no=5&sm=10,5&date=2026-11-20")
    assert (generic.format, generic.amount, generic.date) == ("generic", Decimal("10.50"),
                                                             "20261120")
    mine = FiscalFormat("shop", register=("reg",), number=("doc",), amount=("total",),
                        date=("d",), hosts=("shop.example",))
    own = parse_qr("https://shop.example/x?reg=R1&doc=D2&total=5&d=20260101", [mine])
    assert own.key == "shop:R1:D2:20260101"


@pytest.mark.parametrize("text", [
    "", "hello", "https://cabinet.tax.gov.ua/cashregs/check?fn=1&id=2&date=20261120",
    UA.replace("sm=250.50", "sm=abc"), UA.replace("sm=250.50", "sm=-1"),
    UA.replace("date=20261120", "date=20261340"), UA.replace("fn=4000123456", "fn=a%20b"),
    "ftp://x?fn=1&id=2&sm=3&date=20260101", "x" * 3000,
])
def test_unreadable(text: str) -> None:
    with pytest.raises(Unreadable):
        parse_qr(text)


def test_claim_once_over_the_api(client: TestClient) -> None:
    s = seed(client, per_amount="0.1")
    a = register(client, s)["customer"]
    b = register(client, s, "+380671234599")["customer"]
    k = key()
    body = {"customer": a, "business": s.business, "qr": UA, "idempotency_key": k}
    first = ok(client.post("/api/v1/claims/fiscal", headers=s.kiosk_h, json=body), 201)
    assert (first["points"], first["amount"], first["balance"]) == (25, "250.50", 25)
    assert ok(client.post("/api/v1/claims/fiscal", headers=s.kiosk_h, json=body), 201) == first
    again = client.post("/api/v1/claims/fiscal", headers=s.register_h,
                        json={**body, "idempotency_key": key()})
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "already_claimed"
    other = client.post("/api/v1/claims/fiscal", headers=s.kiosk_h,
                        json={**body, "customer": b, "idempotency_key": key()})
    assert other.status_code == 409 and other.json()["detail"]["reason"] == "already_claimed"
    assert points(client, s) == 25 and points(client, s, "+380671234599") == 0

    bad = client.post("/api/v1/claims/fiscal", headers=s.kiosk_h,
                      json={**body, "qr": "not a check", "idempotency_key": key()})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "qr"]
    unknown = client.post("/api/v1/claims/fiscal", headers=s.kiosk_h,
                          json={**body, "customer": "c_0000000000000000",
                                "qr": UA.replace("98765", "1"), "idempotency_key": key()})
    assert unknown.status_code == 404
    nobiz = client.post("/api/v1/claims/fiscal", headers=s.kiosk_h,
                        json={**body, "business": 99999, "idempotency_key": key()})
    assert nobiz.status_code == 404
    extra = client.post("/api/v1/claims/fiscal", headers=s.kiosk_h, json={**body, "x": 1})
    assert extra.status_code == 422


def test_racing_customers_claim_a_check_once(live: httpx.Client) -> None:
    s = seed(live, per_amount="1")
    ids = [register(live, s, f"+3806712345{i:02d}")["customer"] for i in range(8)]
    qr = UA.replace("98765", "555")

    def claim(cid: str) -> int:
        r = live.post("/api/v1/claims/fiscal", headers=s.kiosk_h,
                      json={"customer": cid, "business": s.business, "qr": qr,
                            "idempotency_key": key()})
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(claim, ids))
    assert sorted(codes) == [201] + [409] * 7
    total = sum(points(live, s, f"+3806712345{i:02d}") for i in range(8))
    assert total == 250
