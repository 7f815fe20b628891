"""The public campaign QR: a signed code (and its PNG) gives each customer one coupon; a second
claim is 409 ``already_claimed``, a repeated key the first answer, a forged code a 422; closed
campaigns give nothing; racing claims of one customer give one coupon (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import zxingcpp
from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, key, ok, register, seed
from PIL import Image

from venue.clock import FakeClock


def poster(client: httpx.Client | TestClient, business: int, series: int,
           **extra: object) -> dict[str, object]:
    return ok(client.post("/api/v1/campaign-qr", headers=ADMIN_H,  # type: ignore[no-any-return]
                          json={"business": business, "name": "Poster", "series": series,
                                **extra}), 201)


def test_one_coupon_per_customer(client: TestClient, clock: FakeClock) -> None:
    import io

    s = seed(client)
    a = register(client, s)["customer"]
    b = register(client, s, "+380671234599")["customer"]
    qr = poster(client, s.business, s.series)
    code = str(qr["code"])
    assert code.startswith("VQ1-") and qr["kind"] == "qr"
    png = client.get(str(qr["png"]), headers=ADMIN_H)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert read.text == code

    k = key()
    first = ok(client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                           json={"customer": a, "code": code, "idempotency_key": k}), 201)
    assert first["coupon"]["series"] == s.series and first["coupon"]["code"]
    assert ok(client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                          json={"customer": a, "code": code, "idempotency_key": k}), 201) \
        == first
    twice = client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                        json={"customer": a, "code": code.lower(), "idempotency_key": key()})
    assert twice.status_code == 409 and twice.json()["detail"]["reason"] == "already_claimed"
    ok(client.post("/api/v1/campaign-qr/claim", headers=s.register_h,
                   json={"customer": b, "code": code, "idempotency_key": key()}), 201)

    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    for bad in (forged, "VQ1-1-AAAAAAAAAAAAAAAA", "hello"):
        r = client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                        json={"customer": a, "code": bad, "idempotency_key": key()})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "code"]
    r = client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                    json={"customer": "c_0000000000000000", "code": code,
                          "idempotency_key": key()})
    assert r.status_code == 404

    ending = poster(client, s.business, s.series,
                    valid_until=(clock.now() + timedelta(hours=1)).isoformat())
    clock.advance(3601)
    r = client.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                    json={"customer": a, "code": ending["code"], "idempotency_key": key()})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "closed"
    assert client.post("/api/v1/campaign-qr", headers=s.kiosk_h,
                       json={"business": s.business, "name": "x",
                             "series": s.series}).status_code == 403


def test_racing_claims_give_one_coupon(live: httpx.Client) -> None:
    s = seed(live)
    cid = register(live, s)["customer"]
    code = poster(live, s.business, s.series)["code"]

    def claim(_: int) -> int:
        return live.post("/api/v1/campaign-qr/claim", headers=s.kiosk_h,
                         json={"customer": cid, "code": code,
                               "idempotency_key": key()}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(claim, range(8)))
    assert sorted(codes) == [201] + [409] * 7
    summary = ok(live.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                           json={"phone": "+380671234567"}))
    assert len(summary["coupons"]) == 1
