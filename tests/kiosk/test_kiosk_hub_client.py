"""The kiosk's HTTP client against the contract, over real HTTP on localhost.

The server is the demo data source behind the contract's routes (``kiosk.demo_server``), a
stand-in until the hub has the loyalty API; the same assertions must hold against the hub.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from kiosk.demo import DEMO_CARD, DemoHub
from kiosk.demo_server import DemoHubServer
from kiosk.hub_client import HttpHubClient, map_error
from kiosk.models import HubError, HubReason, OrderLine, VisitRequest
from venue.clock import FakeClock

TOKEN = "t0ken"


@pytest.fixture
def server(clock: FakeClock) -> Iterator[DemoHubServer]:
    s = DemoHubServer(("127.0.0.1", 0), DemoHub(clock=clock), TOKEN).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def client(server: DemoHubServer) -> Iterator[HttpHubClient]:
    c = HttpHubClient(server.url, TOKEN, timeout=2.0)
    try:
        yield c
    finally:
        c.close()


def reason_of(fn: object) -> HubReason:
    with pytest.raises(HubError) as info:
        fn()  # type: ignore[operator]
    return info.value.reason


def test_identify_by_phone_and_card(client: HttpHubClient) -> None:
    s = client.identify(phone="+380671234567", businesses=[1])
    assert s.customer == "c_demo0001" and s.masked_phone == "+380 •• ••• •• 67"
    assert s.balance(1).points == 120  # type: ignore[union-attr]
    assert {c.name: c.code is None for c in s.coupons} == {"Free coffee": False,
                                                           "Birthday cake": True}
    assert [r.id for r in s.rewards if r.affordable] == [3, 4, 5]  # 120 points
    assert client.identify(card=DEMO_CARD, businesses=[1]).customer == "c_demo0001"


def test_identify_errors_map_to_reasons(client: HttpHubClient) -> None:
    assert reason_of(lambda: client.identify(phone="+380509876543", businesses=[1])) \
        == HubReason.UNKNOWN_CUSTOMER
    assert reason_of(lambda: client.identify(phone="12", businesses=[1])) \
        == HubReason.INVALID_PHONE


def test_register_visit_idempotent(client: HttpHubClient, clock: FakeClock) -> None:
    s = client.register(phone="+380509876543", businesses=[1])
    assert s.new and s.customer.startswith("c_")
    visit = VisitRequest(s.customer, 1, "k1:visit:abc", clock.now(), "k1")
    first = client.credit_visit(visit)
    assert first.credited and first.points == 10 and first.balance == 10
    assert client.credit_visit(visit) == first  # the same key is the same credit
    again = client.credit_visit(VisitRequest(s.customer, 1, "k1:visit:def", clock.now(), "k1"))
    assert not again.credited and again.reason == "cooldown" and again.next_at is not None


def test_redeem_and_insufficient_points(client: HttpHubClient) -> None:
    r = client.redeem(3, customer="c_demo0001", idempotency_key="r1")
    assert r.balance == 70 and r.coupon.code and r.coupon.serial
    with pytest.raises(HubError) as info:
        client.redeem(6, customer="c_demo0001", idempotency_key="r2")
    assert info.value.reason == HubReason.INSUFFICIENT_POINTS
    assert info.value.detail == {"balance": 70, "cost": 300}


def test_catalog_and_checks(client: HttpHubClient) -> None:
    cat = client.catalog(1)
    assert [c.name for c in cat.categories] == ["Coffee", "Tea", "Pastry"]
    latte = next(i for i in cat.items if i.name == "Latte")
    assert latte.price == Decimal("65.00")
    check = client.submit_check(customer="c_demo0001", business=1,
                                lines=[OrderLine(latte.id, 2)], idempotency_key="o1", device="k1")
    assert check.number == "A-017" and check.total == Decimal("130.00") and check.qr
    with pytest.raises(HubError) as info:
        client.submit_check(customer=None, business=1, lines=[OrderLine(10, 1)],
                            idempotency_key="o2", device="k1")
    assert info.value.reason == HubReason.UNAVAILABLE and info.value.detail["items"] == [10]


def test_wrong_token_is_offline_not_a_guess(server: DemoHubServer) -> None:
    c = HttpHubClient(server.url, "wrong", timeout=2.0)
    assert reason_of(lambda: c.identify(phone="+380671234567", businesses=[1])) \
        == HubReason.OFFLINE


def test_nobody_listening_is_offline_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = HttpHubClient(f"http://127.0.0.1:{port}", TOKEN, timeout=1.0)
    assert reason_of(lambda: c.catalog(1)) == HubReason.OFFLINE
    assert c.ping() is False


def test_a_hub_that_never_answers_costs_one_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # accepts connections (the kernel does) but never answers
        c = HttpHubClient(f"http://127.0.0.1:{s.getsockname()[1]}", TOKEN, timeout=0.3)
        started = time.monotonic()
        assert reason_of(lambda: c.identify(phone="+380671234567", businesses=[1])) \
            == HubReason.OFFLINE
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("path,status,body,reason", [
    ("/api/v1/kiosk/identify", 429, {"detail": "slow down"}, HubReason.RATE_LIMITED),
    ("/api/v1/checks", 429, None, HubReason.RATE_LIMITED),
    ("/api/v1/kiosk/identify", 503, None, HubReason.OFFLINE),
    ("/api/v1/visits", 500, {"detail": "boom"}, HubReason.OFFLINE),
    ("/api/v1/rewards/3/redeem", 409, {"detail": {"reason": "insufficient_points",
                                                  "balance": 1, "cost": 5}},
     HubReason.INSUFFICIENT_POINTS),
    ("/api/v1/rewards/3/redeem", 409, {"detail": {"reason": "something_else"}},
     HubReason.OFFLINE),
    ("/api/v1/customers", 422, {"detail": [{"loc": ["body", "phone"], "msg": "bad"}]},
     HubReason.INVALID_PHONE),
])
def test_error_mapping(path: str, status: int, body: object, reason: HubReason) -> None:
    assert map_error(path, status, body).reason == reason


def test_an_answer_trickling_in_is_cut_at_a_total_deadline() -> None:
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n")
        while not stop.wait(0.05):  # one byte every 50 ms: every read is "on time"
            try:
                conn.sendall(b" ")
            except OSError:
                break
        conn.close()

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    c = HttpHubClient(f"http://127.0.0.1:{srv.getsockname()[1]}", TOKEN, timeout=0.3)
    started = time.monotonic()
    try:
        assert reason_of(lambda: c.catalog(1)) == HubReason.OFFLINE
        assert time.monotonic() - started < 1.5
    finally:
        stop.set()
        srv.close()
        t.join(2)
