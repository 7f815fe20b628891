"""A public campaign QR (a poster, a billboard): whoever scans it gets the campaign's coupon,
once per customer.

The code is ``VQ1-{campaign}-{MAC}``: the MAC (HMAC-SHA256 under the hub's ``campaign_qr_key``,
made on first use, 80 bits in base32) makes codes unguessable, so no one claims a campaign they
never saw. Upper-case letters, digits and ``-`` only: the QR uses its compact alphanumeric mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.delivery import qr_png
from hub.loyalty import campaigns, ledger
from hub.loyalty.earn_models import Campaign, CampaignIssue
from hub.loyalty.errors import Conflict
from hub.loyalty.service import coupon_json, get_customer
from hub.models import Code, Series, Setting
from hub.series import NotFound, SeriesError

KEY = "campaign_qr_key"
_CODE = re.compile(r"^VQ1-([1-9][0-9]{0,18})-([A-Z2-7]{16})$")


def _key(session: Session) -> bytes:
    row = session.get(Setting, KEY)
    if row is None:
        try:
            with session.begin_nested():
                session.add(Setting(key=KEY, value=secrets.token_hex(32)))
        except IntegrityError:
            pass
        row = session.get(Setting, KEY)
        assert row is not None
    return bytes.fromhex(row.value)


def _mac(key: bytes, campaign_id: int) -> str:
    digest = hmac.new(key, f"campaign-qr:{campaign_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode()


def code_for(session: Session, campaign_id: int) -> str:
    return f"VQ1-{campaign_id}-{_mac(_key(session), campaign_id)}"


def verify(session: Session, code: str) -> int:
    """The campaign a code is for.

    Raises:
        SeriesError: not a campaign code, or a forged one (422 on ``code``).
    """
    m = _CODE.match(code.strip().upper())
    if m is None or int(m[1]) >= 2**63:
        raise SeriesError("not a campaign QR code", "code")
    cid = int(m[1])
    if not hmac.compare_digest(_mac(_key(session), cid), m[2]):
        raise SeriesError("not a campaign QR code", "code")
    return cid


def png(code: str, *, scale: int = 10) -> bytes:
    """The poster's QR as PNG."""
    return qr_png(code, scale=scale, error="q")  # level Q: posters get scratched


def create(session: Session, *, business_id: int, name: str, series_id: int, notify: bool,
           valid_until: datetime | None, now: datetime) -> tuple[Campaign, str]:
    row = campaigns.create(session, business_id=business_id, name=name, kind="qr",
                           series_id=series_id, spec={}, notify=notify,
                           valid_until=valid_until, now=now)
    return row, code_for(session, row.id)


def claim(session: Session, *, code: str, customer_id: str, key: str, device: str,
          now: datetime) -> dict[str, Any]:
    """Give the customer the campaign's coupon, once; a repeated ``key`` returns the first answer.

    Raises:
        SeriesError: not a valid code (422 on ``code``).
        Conflict: ``already_claimed`` (this customer has it), ``closed``, ``unavailable``.
    """
    cid = verify(session, code)
    get_customer(session, customer_id)
    row = campaigns.get(session, cid, lock=True)  # serialises this campaign's claims
    if row.kind != "qr":
        raise NotFound(f"no campaign QR {cid}")
    op_key = f"{customer_id}:{key}"
    done = ledger.find_op(session, row.business_id, "campaign_qr", op_key)
    if done is not None:
        return done.answer
    had = session.scalar(select(CampaignIssue).where(CampaignIssue.campaign_id == cid,
                                                     CampaignIssue.subject == customer_id))
    if had is not None:
        raise Conflict("already_claimed", "this customer has this campaign's coupon",
                       coupon=had.code_ref)
    if not campaigns.is_open(row, now):
        raise Conflict("closed", f"campaign {cid} is closed")
    issued = campaigns.issue_to(session, row, [(customer_id, customer_id)], now=now)[0]
    found = session.execute(select(Code, Series).join(Series, Series.id == Code.series_id)
                            .where(Code.ref == issued.ref)).one()
    answer = {"campaign": cid, "coupon": coupon_json(found[0], found[1], row.business_id,
                                                     reveal=True)}
    ledger.record_op(session, business_id=row.business_id, op="campaign_qr", key=op_key,
                     customer_id=customer_id, device=device, reason="ok", now=now,
                     answer=answer)
    return answer

