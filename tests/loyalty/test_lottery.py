"""Lottery: prize list, codes (generated, imported, printable as QR), plays once per code, the
coupon lands in the wallet; prize counts never go below zero under concurrent plays (SQLite and
PostgreSQL, real uvicorn)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hubkit import start_server
from loyaltykit import ADMIN_H, Seeded, key, ok, register, seed
from sqlalchemy import select

from hub.api.app import create_app
from hub.db import Database
from hub.delivery import qr_png
from hub.loyalty.gift_models import GiftCode, Prize
from hub.loyalty.lottery import PrizeChance, decide_draw, total_weight
from venue.clock import FakeClock


def first(n: int) -> int:
    """A draw that always lands on the first prize with a chance left."""
    return 0


def make_lottery(c: httpx.Client | TestClient, s: Seeded, prizes: list[dict[str, Any]],
                 codes: int = 3) -> tuple[int, list[str]]:
    lot = ok(c.post("/api/v1/lotteries", headers=ADMIN_H,
                    json={"business": s.business, "name": "Spring draw",
                          "text": "Scan the QR from your receipt and win"}), 201)["id"]
    ok(c.put(f"/api/v1/lotteries/{lot}/prizes", headers=ADMIN_H, json={"prizes": prizes}))
    made = ok(c.post(f"/api/v1/lotteries/{lot}/codes", headers=ADMIN_H, json={"count": codes}),
              201)["codes"]
    return lot, made


def latte_series(c: httpx.Client | TestClient) -> int:
    return int(ok(c.post("/api/v1/series", headers=ADMIN_H,
                         json={"name": "Free latte", "kind": "coupon", "issue_limit": 100}),
                  201)["id"])


def test_draw_is_a_pure_function_of_weights_and_roll() -> None:
    prizes = [PrizeChance(1, 1, None), PrizeChance(2, None, 2), PrizeChance(3, 5, 0),
              PrizeChance(4, 0, None)]
    assert total_weight(prizes) == 3  # 1 + what is left of 2; nothing left of 3; weight 0
    assert [decide_draw(prizes, r).prize for r in range(3)] == [1, 2, 2]
    assert decide_draw([PrizeChance(1, None, 0)], 0).reason == "no_prizes"
    with pytest.raises(ValueError):
        decide_draw(prizes, 3)


def test_play_issues_the_prize_into_the_wallet_once(client: TestClient) -> None:
    client.app.state.hub.extra["lottery_randbelow"] = first  # type: ignore[attr-defined]
    s = seed(client)
    latte = latte_series(client)
    lot, codes = make_lottery(client, s, [{"name": "Free latte", "series": latte, "count": 1},
                                          {"name": "Try again", "weight": 1}])
    listed = ok(client.get(f"/api/v1/lotteries?business={s.business}", headers=s.kiosk_h))
    assert listed == {"lotteries": [{"id": lot, "business": s.business, "name": "Spring draw",
                                     "text": "Scan the QR from your receipt and win"}]}
    assert ok(client.get("/api/v1/lotteries", headers=s.register_h)) == listed
    cust = register(client, s)["customer"]
    k = key()
    body = {"customer": cust, "code": codes[0].lower(), "idempotency_key": k}
    won = ok(client.post("/api/v1/lotteries/play", headers=s.kiosk_h, json=body), 201)
    assert won["lottery"] == {"id": lot, "name": "Spring draw"}
    assert won["prize"]["name"] == "Free latte"
    coupon = won["prize"]["coupon"]
    assert coupon["series"] == latte and coupon["business"] == s.business and coupon["code"]
    # the same key again: the first answer; another key: already played, by anyone
    assert ok(client.post("/api/v1/lotteries/play", headers=s.kiosk_h, json=body), 201) == won
    other = register(client, s, "+380671234568")["customer"]
    r = client.post("/api/v1/lotteries/play", headers=s.kiosk_h,
                    json={"customer": other, "code": codes[0], "idempotency_key": key()})
    assert r.status_code == 409 and r.json() == {"detail": {"reason": "already_played"}}
    summary = ok(client.post("/api/v1/kiosk/identify", headers=s.kiosk_h,
                             json={"phone": "+380671234567", "businesses": [s.business]}))
    assert [c["ref"] for c in summary["coupons"]] == [coupon["ref"]]
    # the only latte is gone: the next code draws "Try again", no coupon
    lost = ok(client.post("/api/v1/lotteries/play", headers=s.register_h,
                          json={"customer": other, "code": codes[1], "idempotency_key": key()}),
              201)
    assert lost["prize"] == {"name": "Try again", "coupon": None}
    prizes = ok(client.get(f"/api/v1/lotteries/{lot}/prizes", headers=ADMIN_H))["prizes"]
    assert [p["remaining"] for p in prizes] == [0, None]
    used = ok(client.get(f"/api/v1/lotteries/{lot}/codes", headers=ADMIN_H))["codes"]
    assert [u["used"] for u in used] == [True, True, False]


def test_unknown_codes_ended_lotteries_and_exhausted_prizes(client: TestClient) -> None:
    client.app.state.hub.extra["lottery_randbelow"] = first  # type: ignore[attr-defined]
    s = seed(client)
    lot, codes = make_lottery(client, s, [{"name": "Sticker", "series": s.series, "count": 1}])
    cust = register(client, s)["customer"]
    for text in ("NOPE-NOPE", "!", "x" * 200):
        r = client.post("/api/v1/lotteries/play", headers=s.kiosk_h,
                        json={"customer": cust, "code": text, "idempotency_key": key()})
        assert r.status_code == 404 and r.json() == {"detail": "unknown lottery code"}
    r = client.post("/api/v1/lotteries/play", headers=s.kiosk_h,
                    json={"customer": "c_0000000000000000", "code": codes[0],
                          "idempotency_key": key()})
    assert r.status_code == 404
    ok(client.post("/api/v1/lotteries/play", headers=s.kiosk_h,
                   json={"customer": cust, "code": codes[0], "idempotency_key": key()}), 201)
    # nothing left to give: not listed, and a play is refused without using the code
    assert ok(client.get(f"/api/v1/lotteries?business={s.business}",
                         headers=s.kiosk_h)) == {"lotteries": []}
    r = client.post("/api/v1/lotteries/play", headers=s.kiosk_h,
                    json={"customer": cust, "code": codes[1], "idempotency_key": key()})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "no_prizes"
    ok(client.patch(f"/api/v1/lotteries/{lot}", headers=ADMIN_H, json={"active": False}))
    ok(client.put(f"/api/v1/lotteries/{lot}/prizes", headers=ADMIN_H,
                  json={"prizes": [{"name": "Try again", "weight": 1}]}))
    r = client.post("/api/v1/lotteries/play", headers=s.kiosk_h,
                    json={"customer": cust, "code": codes[1], "idempotency_key": key()})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "ended"


def test_imported_codes_qr_and_admin_checks(client: TestClient, db: Database) -> None:
    s = seed(client)
    lot, _ = make_lottery(client, s, [{"name": "Try again", "weight": 1}], codes=1)
    made = ok(client.post(f"/api/v1/lotteries/{lot}/codes", headers=ADMIN_H,
                          json={"codes": ["ab12-cd34", "XY99 ZZ11"]}), 201)
    assert made == {"codes": ["AB12CD34", "XY99ZZ11"]}
    r = client.post(f"/api/v1/lotteries/{lot}/codes", headers=ADMIN_H,
                    json={"codes": ["AB12CD34", "NEW12345"]})
    assert r.status_code == 409 and r.json()["detail"] == {"reason": "duplicate_codes",
                                                            "codes": ["AB12CD34"]}
    with db.read() as sess:  # the refused batch stored nothing
        assert sess.scalar(select(GiftCode).where(GiftCode.code == "NEW12345")) is None
    png = client.get("/api/v1/gift-codes/AB12CD34/qr.png", headers=ADMIN_H)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content == qr_png("AB12CD34")
    svg = client.get("/api/v1/gift-codes/ab12-cd34/qr.svg", headers=ADMIN_H)
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert client.get("/api/v1/gift-codes/ZZZZ0000/qr.png", headers=ADMIN_H).status_code == 404
    for bad in ({"count": 0}, {"count": 1, "codes": ["ABCD1234"]}, {}):
        r = client.post(f"/api/v1/lotteries/{lot}/codes", headers=ADMIN_H, json=bad)
        assert r.status_code == 422, bad
    r = client.put(f"/api/v1/lotteries/{lot}/prizes", headers=ADMIN_H,
                   json={"prizes": [{"name": "nothing set"}]})
    assert r.status_code == 422
    r = client.put(f"/api/v1/lotteries/{lot}/prizes", headers=ADMIN_H,
                   json={"prizes": [{"name": "ghost", "series": 999999, "weight": 1}]})
    assert r.status_code == 404
    assert client.post("/api/v1/lotteries", headers=s.kiosk_h,
                       json={"business": s.business, "name": "x"}).status_code == 403
    assert client.post("/api/v1/lotteries", headers=ADMIN_H,
                       json={"business": 424242, "name": "x"}).status_code == 404


def test_concurrent_plays_never_give_more_prizes_than_counted(
        any_db: Database, clock: FakeClock) -> None:
    app = create_app(any_db, clock=clock, token_ttl=0.0, identify_limits=(0, 0))
    app.state.hub.extra["lottery_randbelow"] = first  # the latte while any is left
    server = start_server(app)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            s = seed(c)
            latte = latte_series(c)
            lot, codes = make_lottery(c, s, [{"name": "Free latte", "series": latte, "count": 3},
                                             {"name": "Try again", "weight": 1}], codes=12)
            customers = [register(c, s, f"+38067123450{i}")["customer"] for i in range(4)]

            def play(i: int) -> dict[str, Any]:
                with httpx.Client(base_url=server.url, timeout=30) as own:
                    r = own.post("/api/v1/lotteries/play", headers=s.kiosk_h,
                                 json={"customer": customers[i % 4], "code": codes[i],
                                       "idempotency_key": f"k{i}"})
                    return ok(r, 201)  # type: ignore[no-any-return]

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(play, range(12)))
            wins = [a for a in answers if a["prize"]["coupon"] is not None]
            assert len(wins) == 3  # every draw wants the latte: exactly the 3 there are
            refs = {w["prize"]["coupon"]["ref"] for w in wins}
            assert len(refs) == len(wins)
            with any_db.read() as sess:
                left = sess.scalar(select(Prize.remaining).where(Prize.lottery_id == lot,
                                                                 Prize.series_id == latte))
                assert left == 3 - len(wins) and left >= 0
                assert all(g.used_at is not None for g in sess.scalars(select(GiftCode)))
            # the 12 repeats with the same keys answer the same, and change nothing
            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(play, range(12))) == answers
    finally:
        server.stop()
