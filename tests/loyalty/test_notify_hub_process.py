"""The `venue hub` process with `[notify]` from its environment: a notifying campaign's coupon
reaches a local SMS gateway through the hub's own sender thread, and neither the hub's log nor
the admin listing holds the number."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from hubkit import wait_for
from loyaltykit import ADMIN_H, HubProcess, ok
from notifykit import sms_gateway

PHONE = "+380671234567"


def test_the_hub_sends_a_campaign_sms(tmp_path: Path) -> None:
    with sms_gateway([500]) as gw:
        hub = HubProcess(f"sqlite:///{tmp_path / 'hub.sqlite3'}", str(tmp_path / "data"),
                         VENUE_NOTIFY__SMS_URL=gw.url + "/sms",
                         VENUE_NOTIFY__SMS_BODY='{"to": "{phone}", "text": "{text}"}',
                         VENUE_NOTIFY__SMS_AUTH="Token t0k",
                         VENUE_NOTIFY__RETRY_BASE_S="0.2").wait_ready()
        try:
            with httpx.Client(base_url=hub.url, timeout=10, headers=ADMIN_H) as c:
                b = ok(c.post("/api/v1/businesses", json={"name": "Cafe"}), 201)["id"]
                series = ok(c.post("/api/v1/series", json={"name": "Free cookie",
                                                           "kind": "coupon",
                                                           "issue_limit": 10}), 201)["id"]
                cid = ok(c.post("/api/v1/customers", json={"phone": PHONE, "consent": True,
                                                           "businesses": [b]}), 201)["customer"]
                camp = ok(c.post("/api/v1/campaigns", json={
                    "business": b, "name": "Hello", "kind": "filter", "series": series,
                    "notify": True}), 201)
                assert ok(c.post(f"/api/v1/campaigns/{camp['id']}/run"))["issued"] == 1
                sent = wait_for(lambda: ok(c.get("/api/v1/notifications",
                                                 params={"status": "sent"})),
                                timeout=20, what="the SMS sent")
        finally:
            hub.stop()
    assert len(gw.requests) == 2  # a 500, then the retry
    body = json.loads(gw.requests[-1]["body"])
    assert body["to"] == PHONE and "Free cookie" in body["text"]
    assert gw.requests[-1]["auth"] == "Token t0k"
    (msg,) = sent
    assert msg["customer"] == cid and msg["channel"] == "sms" and msg["attempts"] == 2
    assert PHONE not in json.dumps(msg) and PHONE[4:] not in json.dumps(msg)
    assert PHONE not in hub.log() and PHONE[4:] not in hub.log()
