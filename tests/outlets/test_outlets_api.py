"""Outlets through the HTTP API (in-process, SQLite and PostgreSQL): selling within quota and
limits, isolation between outlets, open items, invoices (CSV/PDF) and idempotency."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import zxingcpp
from fastapi.testclient import TestClient
from hubkit import ADMIN_H
from outletkit import customer, key, ok, outlet, sell, series, token
from PIL import Image

from hub.outlets.invoices import InvoiceDoc, invoice_pdf

PHONE = "+380671234567"


def test_outlet_sells_to_a_phone_and_the_codes_are_in_the_customers_wallet(
        client: TestClient) -> None:
    sid = series(client)
    h = outlet(client, "agency1", (sid, 10, "150.00"))
    assert ok(client.get("/api/v1/outlet/series", headers=h)) == [
        {"outlet": "agency1", "series": sid, "quota": 10, "sold": 0, "left": 10,
         "price": "150.00", "currency": "UAH"}]
    k = key()
    s = sell(client, h, sid, 2, k, customer_phone="067 123 45 67")
    assert s.status == 201, s.body
    sale = s.body
    assert sale["amount"] == "300.00" and sale["status"] == "open" and len(sale["codes"]) == 2
    assert PHONE not in str(sale) and "1234567" not in str(sale)
    cid = sale["customer"]
    assert cid == customer(client, PHONE)  # the same customer the kiosk knows
    for c in sale["codes"]:
        code = ok(client.get(f"/api/v1/codes/{c['ref']}", headers=ADMIN_H))
        assert code["customer_id"] == cid and code["status"] == "issued"
    again = sell(client, h, sid, 2, k, customer_phone=PHONE)  # a retry: the same sale, no more
    assert again.status == 200 and again.body["codes"] == sale["codes"]
    assert ok(client.get("/api/v1/outlet/series", headers=h))[0]["sold"] == 2
    assert sell(client, h, sid, 3, k).body["detail"]["reason"] == "idempotency_key_reused"
    other_phone = sell(client, h, sid, 2, k, customer_phone="+380501112233")
    assert other_phone.status == 409
    assert other_phone.body["detail"]["reason"] == "idempotency_key_reused"


def test_an_outlet_never_sees_another_outlets_sales(client: TestClient) -> None:
    sid = series(client)
    h1 = outlet(client, "a1", (sid, 10, "10.00"))
    h2 = outlet(client, "a2", (sid, 10, "10.00"))
    mine = sell(client, h1, sid, 1).body
    theirs = sell(client, h2, sid, 1).body
    assert [x["id"] for x in ok(client.get("/api/v1/outlet/sales", headers=h1))] == [mine["id"]]
    assert ok(client.get(f"/api/v1/outlet/sales/{mine['id']}", headers=h1))["codes"]
    ref = mine["refs"][0]
    png = client.get(f"/api/v1/outlet/sales/{mine['id']}/codes/{ref}/qr.png", headers=h1)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert read.text == mine["codes"][0]["code"]
    for url in (f"/api/v1/outlet/sales/{theirs['id']}/codes/{theirs['refs'][0]}/qr.svg",
                f"/api/v1/outlet/sales/{mine['id']}/codes/{theirs['refs'][0]}/qr.svg"):
        assert client.get(url, headers=h1).status_code == 404, url
    r = client.get(f"/api/v1/outlet/sales/{theirs['id']}", headers=h1)  # changing the id
    assert r.status_code == 404
    for other in (theirs["id"] + 1000, 2**63 - 1):
        assert client.get(f"/api/v1/outlet/sales/{other}", headers=h1).status_code == 404
    # operator routes are closed to outlets, whatever id they name
    for url in ("/api/v1/outlets", "/api/v1/outlets/a2/sales", "/api/v1/outlets/a2/open-items",
                "/api/v1/outlets/a2/invoices", "/api/v1/transfers"):
        assert client.get(url, headers=h1).status_code == 403, url
    assert client.post("/api/v1/outlets/a2/invoices", headers=h1,
                       json={"idempotency_key": key()}).status_code == 403
    assert client.put(f"/api/v1/outlets/a1/series/{sid}", headers=h1,
                      json={"quota": 999, "price": "0"}).status_code == 403
    # an outlet without an outlet row, or selling a series not assigned to it: 404
    stranger = token(client, "outlet", "nobody")
    assert sell(client, stranger, sid).status == 404
    other = series(client, "Other")
    assert sell(client, h1, other).status == 404
    # an outlet switched off cannot sell, and can again once switched on
    assert ok(client.patch("/api/v1/outlets/a1", headers=ADMIN_H, json={"active": False}))[
        "active"] is False
    assert sell(client, h1, sid).status == 404
    ok(client.patch("/api/v1/outlets/a1", headers=ADMIN_H, json={"active": True}))
    assert sell(client, h1, sid).status == 201
    assert client.patch("/api/v1/outlets/a1", headers=h1, json={"active": True}).status_code == 403
    # another role cannot sell as an outlet
    assert client.post("/api/v1/outlet/sales", headers=ADMIN_H,
                       json={"series": sid, "idempotency_key": key()}).status_code == 403


def test_quota_and_purchase_limits_refuse_with_a_clear_reason(client: TestClient) -> None:
    sid = series(client, per_order_limit=3, per_customer_limit=4)
    h = outlet(client, "q1", (sid, 5, "20.00"))
    r = sell(client, h, sid, 4, customer_phone=PHONE)
    assert r.status == 409 and r.body["detail"]["reason"] == "per_order_limit"
    assert "at most 3 tickets" in r.body["detail"]["message"]
    assert sell(client, h, sid, 3, customer_phone=PHONE).status == 201
    r = sell(client, h, sid, 2, customer_phone=PHONE)
    assert r.status == 409 and r.body["detail"]["reason"] == "per_customer_limit"
    assert r.body["detail"]["held"] == 3 and "1 more" in r.body["detail"]["message"]
    r = sell(client, h, sid, 1)  # anonymous sale of a per-customer-limited series
    assert r.body["detail"]["reason"] == "customer_required"
    assert sell(client, h, sid, 2, customer_phone="+380501112233").status == 201
    r = sell(client, h, sid, 1, customer_phone="+380501112244")
    assert r.status == 409 and r.body["detail"]["reason"] == "quota_exceeded"
    assert (r.body["detail"]["quota"], r.body["detail"]["left"]) == (5, 0)
    assert ok(client.get("/api/v1/outlet/series", headers=h))[0]["sold"] == 5
    # refusals left nothing behind: 5 codes issued, 2 sales
    assert ok(client.get(f"/api/v1/series/{sid}", headers=ADMIN_H))["issued_count"] == 5
    assert len(ok(client.get("/api/v1/outlet/sales", headers=h))) == 2
    # the quota cannot go below what was sold
    r = client.put(f"/api/v1/outlets/q1/series/{sid}", headers=ADMIN_H,
                   json={"quota": 4, "price": "20.00"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "quota"]


def test_closing_a_period_bills_exactly_the_open_items(client: TestClient, clock) -> None:
    sid = series(client)
    s2 = series(client, "Matinee")
    h = outlet(client, "inv1", (sid, 100, "150.00"), (s2, 100, "99.99"))
    h_other = outlet(client, "inv2", (sid, 100, "1.00"))
    sell(client, h_other, sid, 5)
    sold = [sell(client, h, sid, 2), sell(client, h, s2, 3), sell(client, h, sid, 1,
                                                                     paid_now=True)]
    assert [x.status for x in sold] == [201, 201, 201]
    assert sold[2].body["status"] == "paid"
    items = ok(client.get("/api/v1/outlets/inv1/open-items", headers=ADMIN_H))
    assert items["count"] == 2 and items["totals"] == {"UAH": "599.97"}
    assert {i["id"] for i in items["items"]} == {sold[0].body["id"], sold[1].body["id"]}
    op = token(client, "operator", "op1")
    k = key()
    inv = ok(client.post("/api/v1/outlets/inv1/invoices", headers=op,
                         json={"idempotency_key": k}), 201)
    assert Decimal(inv["total"]) == sum(Decimal(i["amount"]) for i in items["items"])
    assert inv["item_count"] == 2 and inv["created_by"] == "operator:op1"
    again = client.post("/api/v1/outlets/inv1/invoices", headers=op, json={"idempotency_key": k})
    assert again.status_code == 200 and again.json()["id"] == inv["id"]
    assert len(ok(client.get("/api/v1/outlets/inv1/invoices", headers=op))) == 1
    r = client.post("/api/v1/outlets/inv1/invoices", headers=op, json={"idempotency_key": key()})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "nothing_to_invoice"
    assert ok(client.get("/api/v1/outlets/inv1/open-items", headers=op))["count"] == 0
    assert ok(client.get(f"/api/v1/outlet/sales/{sold[0].body['id']}", headers=h))[
        "status"] == "invoiced"
    # the other outlet's open item is untouched
    assert ok(client.get("/api/v1/outlets/inv2/open-items", headers=op))["totals"] == {
        "UAH": "5.00"}
    # CSV: a line per sale, the total line equals the invoice
    r = client.get(f"/api/v1/outlets/inv1/invoices/{inv['id']}/invoice.csv", headers=op)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    lines, total = rows[:-1], rows[-1]
    assert total["sale"] == "total" and total["amount"] == inv["total"]
    assert sum(Decimal(x["amount"]) for x in lines) == Decimal(inv["total"])
    assert {int(x["sale"]) for x in lines} == {sold[0].body["id"], sold[1].body["id"]}
    # PDF, also for the outlet itself; not for another outlet
    r = client.get(f"/api/v1/outlets/inv1/invoices/{inv['id']}/invoice.pdf", headers=op)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-") and b"%%EOF" in r.content[-64:]
    assert client.get(f"/api/v1/outlet/invoices/{inv['id']}/invoice.pdf",
                      headers=h).status_code == 200
    assert client.get(f"/api/v1/outlet/invoices/{inv['id']}/invoice.csv",
                      headers=h_other).status_code == 404
    assert client.get(f"/api/v1/outlets/inv2/invoices/{inv['id']}",
                      headers=op).status_code == 404
    # a sale after the close is the next period's open item
    sell(client, h, sid, 1)
    assert ok(client.get("/api/v1/outlets/inv1/open-items", headers=op))["totals"] == {
        "UAH": "150.00"}


def test_close_until_keeps_later_sales_open(client: TestClient, clock) -> None:
    sid = series(client)
    h = outlet(client, "u1", (sid, 100, "10.00"))
    sell(client, h, sid, 1)
    cut = clock.now()
    clock.advance(60)
    later = sell(client, h, sid, 2).body
    inv = ok(client.post("/api/v1/outlets/u1/invoices", headers=ADMIN_H,
                         json={"idempotency_key": key(), "until": cut.isoformat()}), 201)
    assert inv["total"] == "10.00"
    items = ok(client.get("/api/v1/outlets/u1/open-items", headers=ADMIN_H))["items"]
    assert [i["id"] for i in items] == [later["id"]]


def test_the_pdf_shows_the_total_and_names_in_any_script() -> None:
    doc = InvoiceDoc({"number": "INV-a-000001", "outlet": "a", "until": "2026-11-24T00:00:00Z",
                      "created_at": "2026-11-24T00:00:00Z", "item_count": 1, "total": "300.00",
                      "currency": "UAH"}, "\u041a\u0430\u0441\u0430 \u0426\u0435\u043d\u0442\u0440",
                     [{"sale": 1, "date": "2026-11-23T10:00:00Z", "series": 7, "qty": 2,
                       "unit_price": "150.00", "amount": "300.00"}])
    plain = invoice_pdf(doc, font_path=None, compress=False)  # Helvetica: text stays readable
    assert b"Total: 300.00 UAH" in plain and b"INV-a-000001" in plain
    unicode_pdf = invoice_pdf(doc)
    assert unicode_pdf.startswith(b"%PDF-")


def test_bad_input_is_a_422_naming_the_field(client: TestClient) -> None:
    sid = series(client)
    h = outlet(client, "b1", (sid, 10, "10.00"))
    cases = [
        ({"series": sid, "idempotency_key": key(), "qty": 0}, "qty"),
        ({"series": sid, "idempotency_key": key(), "qty": 101}, "qty"),
        ({"series": 0, "idempotency_key": key()}, "series"),
        ({"series": sid, "idempotency_key": "bad key!"}, "idempotency_key"),
        ({"series": sid, "idempotency_key": key(), "customer_phone": "12"}, "customer_phone"),
        ({"series": sid, "idempotency_key": key(), "customer": "c_nothex"}, "customer"),
        ({"series": sid, "idempotency_key": key(), "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = client.post("/api/v1/outlet/sales", headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in str(r.json()["detail"][0]["loc"]), (field, r.text)
    r = client.post("/api/v1/outlet/sales", headers=h,
                    json={"series": sid, "idempotency_key": key(), "customer": "c_" + "0" * 16})
    assert r.status_code == 404
    assert client.put(f"/api/v1/outlets/b1/series/{sid}", headers=ADMIN_H,
                      json={"quota": 1, "price": "1.234"}).status_code == 422
    assert client.put("/api/v1/outlets/nope/series/1", headers=ADMIN_H,
                      json={"quota": 1, "price": "1"}).status_code == 404
    assert client.post("/api/v1/outlets", headers=ADMIN_H,
                       json={"id": "b1", "name": "again"}).status_code == 409
    r = client.put(f"/api/v1/series/{sid}/sales-rules", headers=ADMIN_H,
                   json={"per_order_limit": 0})
    assert r.status_code == 422 and "per_order_limit" in str(r.json()["detail"][0]["loc"])
    assert client.get("/api/v1/series/999999/sales-rules", headers=ADMIN_H).status_code == 404
    assert client.get(f"/api/v1/outlets/b1/invoices/{2**63}", headers=ADMIN_H).status_code == 422


def test_an_exhausted_series_refuses_the_sale_and_leaves_the_quota(client: TestClient) -> None:
    sid = series(client, issue_limit=3)
    h = outlet(client, "x1", (sid, 10, "10.00"))
    assert sell(client, h, sid, 2).status == 201
    r = sell(client, h, sid, 2)
    assert r.status == 409 and r.body["detail"]["reason"] == "series_sold_out"
    assert "cannot issue 2 more, only 1" in r.body["detail"]["message"]
    assert ok(client.get("/api/v1/outlet/series", headers=h))[0]["sold"] == 2
    assert ok(client.get("/api/v1/outlets/x1/open-items", headers=ADMIN_H))["count"] == 1
