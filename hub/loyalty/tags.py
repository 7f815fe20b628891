"""Labels on customers (``vip``, ``staff``) that campaign filters select by."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.loyalty.earn_models import CustomerTag
from hub.loyalty.service import get_customer

TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
MAX_TAGS = 50


def normalize(tags: list[str]) -> list[str]:
    """Lower-cased, unique, sorted tags.

    Raises:
        ValueError: a tag that is not 1-40 of ``a-z0-9_.-`` (starting with a letter or digit).
    """
    out = sorted({t.strip().lower() for t in tags})
    bad = [t for t in out if not TAG.match(t)]
    if bad:
        raise ValueError(f"tags must be 1-40 of a-z 0-9 _ . - : {bad[:3]}")
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return out


def set_tags(session: Session, customer_id: str, tags: list[str], *, now: datetime) -> list[str]:
    """Replace the customer's tags (idempotent: the same list twice changes nothing).

    Raises:
        UnknownCustomer: no such customer.
    """
    get_customer(session, customer_id)
    want = set(normalize(tags))
    have = set(session.scalars(select(CustomerTag.tag)
                               .where(CustomerTag.customer_id == customer_id)))
    if have - want:
        session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id,
                                                  CustomerTag.tag.in_(sorted(have - want))))
    for tag in sorted(want - have):
        session.add(CustomerTag(customer_id=customer_id, tag=tag, created_at=now))
    session.flush()
    return sorted(want)


def tags_of(session: Session, customer_id: str) -> list[str]:
    return list(session.scalars(select(CustomerTag.tag)
                                .where(CustomerTag.customer_id == customer_id)
                                .order_by(CustomerTag.tag)))
