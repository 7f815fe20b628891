"""Lottery, promotions and pictures over real HTTP on localhost (the kiosk's client against the
demo data behind the contract's routes), the client's error mapping of the contract's answers, and
the bounded picture cache on disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.demo import DEMO_LOSE_CODE, DEMO_WIN_CODE, DemoHub
from kiosk.demo_offers import demo_png
from kiosk.demo_server import DemoHubServer
from kiosk.hub_client import HttpHubClient, map_error
from kiosk.media import MediaCache, picture_kind
from kiosk.models import HubError, HubReason
from venue.clock import FakeClock

TOKEN = "t0ken"


@pytest.fixture
def hub(clock: FakeClock) -> DemoHub:
    return DemoHub(clock=clock)


@pytest.fixture
def client(hub: DemoHub) -> Iterator[HttpHubClient]:
    s = DemoHubServer(("127.0.0.1", 0), hub, TOKEN).start()
    c = HttpHubClient(s.url, TOKEN, timeout=2.0)
    try:
        yield c
    finally:
        c.close()
        s.stop()


def reason_of(fn: object) -> HubReason:
    with pytest.raises(HubError) as info:
        fn()  # type: ignore[operator]
    return info.value.reason


def test_lotteries_and_play_over_http(client: HttpHubClient) -> None:
    lotteries = client.lotteries([1, 2])
    assert [(x.id, x.business, x.name) for x in lotteries] == [(4, 1, "Spring draw")]
    assert client.lotteries([2]) == ()
    won = client.play_lottery(customer="c_demo0001", code=DEMO_WIN_CODE, idempotency_key="k-1")
    assert won.lottery == 4 and won.prize == "Free latte"
    assert won.coupon is not None and won.coupon.code and won.coupon.business == 1
    # the same key again is the same play (a lost answer), not "already played"
    again = client.play_lottery(customer="c_demo0001", code=DEMO_WIN_CODE, idempotency_key="k-1")
    assert again == won
    assert reason_of(lambda: client.play_lottery(
        customer="c_demo0001", code=DEMO_WIN_CODE, idempotency_key="k-2")) == \
        HubReason.ALREADY_PLAYED
    lost = client.play_lottery(customer="c_demo0001", code=DEMO_LOSE_CODE, idempotency_key="k-3")
    assert lost.coupon is None
    assert reason_of(lambda: client.play_lottery(
        customer="c_demo0001", code="WHAT", idempotency_key="k-4")) == HubReason.UNKNOWN_CODE


def test_promotions_and_claims_over_http(client: HttpHubClient, hub: DemoHub) -> None:
    promos = client.promotions([1])
    assert [p.id for p in promos] == [3, 2, 1]
    assert promos[0].coupon is not None and promos[0].coupon.cost == 0
    assert promos[1].coupon is None and promos[1].image == "/api/v1/media/promo-happy-hour.png"
    claim = client.claim_promotion(3, customer="c_demo0001", idempotency_key="c-1")
    assert claim.coupon.name == "Free cookie" and claim.balance == 120
    assert client.claim_promotion(3, customer="c_demo0001", idempotency_key="c-1") == claim
    assert reason_of(lambda: client.claim_promotion(
        3, customer="c_demo0001", idempotency_key="c-2")) == HubReason.ALREADY_CLAIMED
    hub.with_points("c_demo0001", 1, 10)
    with pytest.raises(HubError) as info:
        client.claim_promotion(1, customer="c_demo0001", idempotency_key="c-3")
    assert info.value.reason == HubReason.INSUFFICIENT_POINTS
    assert info.value.detail == {"balance": 10, "cost": 40}
    assert reason_of(lambda: client.claim_promotion(
        2, customer="c_demo0001", idempotency_key="c-4")) == HubReason.NO_COUPON


def test_media_over_http(client: HttpHubClient) -> None:
    data = client.media("/api/v1/media/latte.png")
    assert data == demo_png("latte")
    assert client.media("/api/v1/media/unknown.png") is None
    assert client.media("/etc/passwd") is None  # only the hub's media route is ever asked


def test_contract_answers_map_to_reasons() -> None:
    play = "/api/v1/lotteries/play"
    assert map_error(play, 404, {"detail": "unknown lottery code"}).reason == \
        HubReason.UNKNOWN_CODE
    assert map_error(play, 409, {"detail": {"reason": "already_played"}}).reason == \
        HubReason.ALREADY_PLAYED
    assert map_error(play, 422, {"detail": [{"loc": ["body", "code"]}]}).reason == \
        HubReason.UNKNOWN_CODE
    for reason in ("ended", "no_prizes", "unavailable"):
        assert map_error(play, 409, {"detail": {"reason": reason}}).reason == reason
    claim = "/api/v1/promotions/2/claim"
    for reason in ("already_claimed", "insufficient_points", "no_coupon", "ended"):
        assert map_error(claim, 409, {"detail": {"reason": reason}}).reason == reason
    assert map_error(claim, 404, {"detail": "no promotion 2"}).reason == HubReason.ENDED
    assert map_error(claim, 409, {"detail": {"reason": "something new"}}).reason == \
        HubReason.OFFLINE


def test_a_hub_without_the_routes_is_no_lottery_and_no_promotion(client: HttpHubClient) -> None:
    client.base_url += "/nothing-here"
    assert reason_of(lambda: client.lotteries([1])) == HubReason.OFFLINE


def test_cache_is_bounded_and_drops_the_least_recently_used(tmp_path: Path) -> None:
    pictures = {f"/api/v1/media/{n}.png": demo_png(n, size=64) for n in ("a", "b", "c", "d")}
    size = len(next(iter(pictures.values())))
    cache = MediaCache(tmp_path, max_bytes=3 * size + 10)
    asked: list[str] = []

    def get(path: str) -> bytes | None:
        asked.append(path)
        return pictures.get(path)

    paths = list(pictures)
    for n, path in enumerate(paths[:3]):
        f = cache.fetch(path, get)
        assert f is not None and f.read_bytes() == pictures[path]
        os.utime(f, (1000 + n, 1000 + n))  # a, then b, then c
    assert cache.cached(paths[0]) is not None  # a shown again: now the most recent
    assert cache.fetch(paths[3], get) is not None  # d needs room: b (least recent) goes
    assert cache.cached(paths[1]) is None
    assert all(cache.cached(p) is not None for p in (paths[0], paths[2], paths[3]))
    assert cache.size() <= cache.max_bytes
    assert asked == paths  # hits never went to the hub
    assert cache.fetch(paths[0], get) is not None and asked == paths


def test_cache_keeps_pictures_only(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, max_bytes=1024 * 1024)
    assert cache.fetch("/api/v1/media/x.png", lambda p: b"<html>error</html>") is None
    assert cache.fetch("/api/v1/media/y.png", lambda p: None) is None
    (tmp_path / "left.part").write_bytes(b"half")  # a crash mid-write
    assert cache.fetch("/api/v1/media/z.png", lambda p: demo_png("latte")) is not None
    assert not (tmp_path / "left.part").exists()
    assert [f.suffix for f in tmp_path.iterdir()] == [".png"]
    assert picture_kind(b"\xff\xd8\xff\xe0....") == ".jpg"
    assert picture_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ".webp"
