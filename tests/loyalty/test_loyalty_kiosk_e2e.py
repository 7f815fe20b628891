"""End to end: the kiosk's real HTTP client against the real hub process.

The hub runs as ``venue hub`` (CLI, migrations, uvicorn) on a SQLite file; the business, rules,
rewards and catalog are seeded over the API; the kiosk talks through ``kiosk.hub_client`` exactly
as on a kiosk, and the register closes the kiosk's check over the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from loyaltykit import PNG, HubProcess, ok, seed

from kiosk.hub_client import HttpHubClient
from kiosk.models import HubError, HubReason, OrderLine, VisitRequest
from venue.clock import SYSTEM_CLOCK


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    proc = HubProcess(f"sqlite:///{tmp_path / 'hub.sqlite3'}", str(tmp_path / "data"))
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


def test_kiosk_client_through_the_whole_flow(hub: HubProcess) -> None:
    with httpx.Client(base_url=hub.url, timeout=10) as admin:
        s = seed(admin, visit_points=60, cost=50, per_amount="0.1", welcome=0)
        kiosk_token = s.kiosk_h["Authorization"].split()[1]
        kiosk = HttpHubClient(hub.url, kiosk_token, timeout=5.0)
        try:
            with pytest.raises(HubError) as unknown:
                kiosk.identify(phone="067 123 45 67", businesses=[s.business])
            assert unknown.value.reason == HubReason.UNKNOWN_CUSTOMER
            with pytest.raises(HubError) as bad:
                kiosk.identify(phone="067 12", businesses=[s.business])
            assert bad.value.reason == HubReason.INVALID_PHONE
            new = kiosk.register(phone="067 123 45 67", businesses=[s.business])
            assert new.new and new.masked_phone == "+380 •• ••• •• 67"
            me = kiosk.identify(phone="+380671234567", businesses=[s.business])
            assert me.customer == new.customer and me.balances[0].business_name == "Cafe"

            visit = VisitRequest(me.customer, s.business, f"k1:visit:{me.customer}",
                                 SYSTEM_CLOCK.now(), "k1")
            first = kiosk.credit_visit(visit)
            assert first.credited and first.points == 60 and first.balance == 60
            assert kiosk.credit_visit(visit) == first  # a retry from the kiosk's queue
            again = kiosk.credit_visit(VisitRequest(me.customer, s.business, "k1:visit:2",
                                                    SYSTEM_CLOCK.now(), "k1"))
            assert not again.credited and again.reason == "cooldown" and again.next_at

            me = kiosk.identify(phone="+380671234567", businesses=[s.business])
            coffee = next(r for r in me.rewards if r.id == s.reward)
            assert coffee.affordable and coffee.image == "/api/v1/media/coffee.png"
            assert kiosk.media(coffee.image) == PNG
            got = kiosk.redeem(s.reward, customer=me.customer, idempotency_key="k1:redeem:1")
            assert got.balance == 10 and got.coupon.code and got.coupon.serial
            with pytest.raises(HubError) as poor:
                kiosk.redeem(s.reward, customer=me.customer, idempotency_key="k1:redeem:2")
            assert poor.value.reason == HubReason.INSUFFICIENT_POINTS
            assert poor.value.detail == {"balance": 10, "cost": 50}
            me = kiosk.identify(phone="+380671234567", businesses=[s.business])
            assert [c.ref for c in me.coupons] == [got.coupon.ref]

            cat = kiosk.catalog(s.business)
            latte = next(i for i in cat.items if i.id == s.latte)
            assert latte.price == Decimal("55.00") and cat.categories[0].name == "Drinks"
            check = kiosk.submit_check(customer=me.customer, business=s.business,
                                       lines=[OrderLine(s.latte, 2), OrderLine(s.cake, 1)],
                                       idempotency_key="k1:order:1", device="k1")
            assert check.total == Decimal("159.90") and check.status == "queued"
            admin.patch(f"/api/v1/catalog/items/{s.cake}", json={"available": False},
                        headers={"Authorization": "Bearer admin-token-for-tests"})
            with pytest.raises(HubError) as gone:
                kiosk.submit_check(customer=None, business=s.business,
                                   lines=[OrderLine(s.cake, 1)], idempotency_key="k1:order:2",
                                   device="k1")
            assert gone.value.reason == HubReason.UNAVAILABLE
            assert gone.value.detail == {"items": [s.cake]}
        finally:
            kiosk.close()

        queue = ok(admin.get(f"/api/v1/register/checks?business={s.business}",
                             headers=s.register_h))
        assert [(q["check"], q["number"]) for q in queue] == [(check.check, check.number)]
        closed = ok(admin.post(f"/api/v1/register/checks/{check.check}/close",
                               json={"paid": True}, headers=s.register_h))
        assert closed["points"] == 15
        ok(admin.post(f"/api/v1/register/checks/{check.check}/close", json={"paid": True},
                      headers=s.register_h))
        after = ok(admin.post("/api/v1/kiosk/identify", headers=s.register_h,
                              json={"phone": "0671234567", "businesses": [s.business]}))
        assert after["balances"][0]["points"] == 25
    assert "1234567" not in hub.log()  # the hub never logs a number
