"""Issuance campaigns: coupons of a series given to customers chosen by a filter, or on checks
that match a rule, each at most once.

A campaign gives one coupon per ``(campaign, subject)`` (``UNIQUE`` in the database): the
subject is the customer for filter and QR campaigns, ``check:{id}`` for check campaigns. A run
locks the campaign row first, so two runs at once issue to each customer once. The decisions (who
matches a filter, which check matches a rule) are pure functions over plain data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from hub import issuing
from hub.delivery import qr_png
from hub.loyalty.earn_models import Campaign, CampaignIssue, CustomerTag
from hub.loyalty.errors import Conflict
from hub.loyalty.models import Business, Check, Customer, Member, Operation
from hub.loyalty.service import get_business
from hub.loyalty.tags import normalize as normalize_tags
from hub.models import Series
from hub.notify.queue import enqueue
from hub.series import NotFound, SeriesError, Visibility, get_series
from venue.messages import rfc3339

log = logging.getLogger("venue.hub.campaigns")
KINDS = ("filter", "check", "qr")
MAX_DAYS = 3660
CHUNK = 5000
EMAIL_QR_SCALE = 6
"""Module size of the coupon QR attached to an email (the sizes a phone shows well)."""


# --- the pure part -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckRule:
    """A check earns the campaign's coupon when it is paid, has a customer, and every given
    condition holds: ``total >= min_total``; contains ``item`` (at least ``min_qty``)."""

    min_total: Decimal | None = None
    item: int | None = None
    min_qty: int = 1


def check_matches(rule: CheckRule, *, total: Decimal, lines: Sequence[dict[str, Any]]) -> bool:
    if rule.min_total is not None and total < rule.min_total:
        return False
    if rule.item is not None:
        qty = sum(int(line.get("qty", 0)) for line in lines if line.get("item") == rule.item)
        if qty < rule.min_qty:
            return False
    return True


def parse_spec(kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The stored filter of a campaign of ``kind``, validated and normalised.

    Raises:
        SeriesError: what is wrong, with the field (``filter.tags``, ``filter.min_total``...).
    """
    if kind not in KINDS:
        raise SeriesError(f"kind must be one of {', '.join(KINDS)}", "kind")
    known = {"filter": {"tags", "visited_within_days", "members_only"},
             "check": {"min_total", "item", "min_qty"}, "qr": set()}[kind]
    extra = sorted(set(raw) - known)
    if extra:
        raise SeriesError(f"unknown keys for a {kind} campaign: {extra}", f"filter.{extra[0]}")
    if kind == "filter":
        try:
            tags = normalize_tags(list(raw.get("tags") or []))
        except (TypeError, ValueError) as exc:
            raise SeriesError(str(exc), "filter.tags") from None
        days = raw.get("visited_within_days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool)
                                 or not 1 <= days <= MAX_DAYS):
            raise SeriesError(f"visited_within_days must be 1..{MAX_DAYS}",
                              "filter.visited_within_days")
        members = raw.get("members_only", True)
        if not isinstance(members, bool):
            raise SeriesError("members_only must be true or false", "filter.members_only")
        return {"tags": tags, "visited_within_days": days, "members_only": members}
    if kind == "check":
        out: dict[str, Any] = {"min_total": None, "item": None, "min_qty": 1}
        if raw.get("min_total") is not None:
            try:
                total = Decimal(str(raw["min_total"]))
            except InvalidOperation:
                raise SeriesError("min_total must be a decimal", "filter.min_total") from None
            if not total.is_finite() or total < 0 or total > Decimal("1e10"):
                raise SeriesError("min_total must be 0..1e10", "filter.min_total")
            out["min_total"] = f"{total:.2f}"
        if raw.get("item") is not None:
            item = raw["item"]
            if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item < 2**63:
                raise SeriesError("item must be an item id", "filter.item")
            out["item"] = item
        qty = raw.get("min_qty", 1)
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 10_000:
            raise SeriesError("min_qty must be 1..10000", "filter.min_qty")
        out["min_qty"] = qty
        if out["min_total"] is None and out["item"] is None:
            raise SeriesError("a check campaign needs min_total or item", "filter")
        return out
    return {}


def rule_of(spec: dict[str, Any]) -> CheckRule:
    total = spec.get("min_total")
    return CheckRule(None if total is None else Decimal(total), spec.get("item"),
                     int(spec.get("min_qty") or 1))


# --- campaigns ---------------------------------------------------------------------------------


def create(session: Session, *, business_id: int, name: str, kind: str, series_id: int,
           spec: dict[str, Any], notify: bool, valid_until: datetime | None,
           now: datetime) -> Campaign:
    """Store a campaign (nothing is issued until it runs, or a check or a scan matches).

    Raises:
        NotFound: no such business or series.
        SeriesError: a bad filter (422 naming the field).
    """
    get_business(session, business_id)
    get_series(session, series_id)
    row = Campaign(business_id=business_id, name=name, kind=kind, series_id=series_id,
                   filter=parse_spec(kind, spec), notify=notify, active=True,
                   valid_until=valid_until, created_at=now)
    session.add(row)
    session.flush()
    return row


def campaign_json(row: Campaign, issued: int | None = None) -> dict[str, Any]:
    out = {"id": row.id, "business": row.business_id, "name": row.name, "kind": row.kind,
           "series": row.series_id, "filter": row.filter, "notify": row.notify,
           "active": row.active,
           "valid_until": None if row.valid_until is None else rfc3339(row.valid_until),
           "created_at": rfc3339(row.created_at)}
    if issued is not None:
        out["issued"] = issued
    return out


def get(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return row


def is_open(row: Campaign, now: datetime) -> bool:
    return row.active and (row.valid_until is None or row.valid_until > now)


def select_customers(session: Session, row: Campaign, *, now: datetime) -> list[str]:
    """The customers a filter campaign's filter selects (ids, sorted)."""
    spec = row.filter
    stmt = select(Customer.id)
    if spec.get("members_only", True):
        stmt = stmt.where(exists().where(Member.business_id == row.business_id,
                                         Member.customer_id == Customer.id))
    for tag in spec.get("tags") or []:
        stmt = stmt.where(exists().where(CustomerTag.customer_id == Customer.id,
                                         CustomerTag.tag == tag))
    days = spec.get("visited_within_days")
    if days:
        since = now - timedelta(days=int(days))
        stmt = stmt.where(exists().where(Operation.business_id == row.business_id,
                                         Operation.op == "visit",
                                         Operation.customer_id == Customer.id,
                                         Operation.reason.in_(("ok", "cooldown")),
                                         Operation.at >= since))
    return list(session.scalars(stmt.order_by(Customer.id)))


def issue_to(session: Session, row: Campaign, pairs: list[tuple[str, str]],
           *, now: datetime) -> list[issuing.IssuedCode]:
    """Issue one coupon per ``(subject, customer)`` and record each (once per subject)."""
    out: list[issuing.IssuedCode] = []
    for start in range(0, len(pairs), CHUNK):
        part = pairs[start:start + CHUNK]
        try:
            codes = issuing.issue(session, row.series_id, customers=[c for _, c in part],
                                  now=now)
        except issuing.IssueError as exc:
            raise Conflict("unavailable", str(exc)) from None
        for (subject, customer), code in zip(part, codes, strict=True):
            session.add(CampaignIssue(campaign_id=row.id, subject=subject, customer_id=customer,
                                      code_ref=code.ref, at=now))
        session.flush()
        out.extend(codes)
    if row.notify:
        series = session.get(Series, row.series_id)
        business = session.get(Business, row.business_id)
        assert series is not None and business is not None
        for (subject, customer), code in zip(pairs, out, strict=True):
            notify_coupon(session, customer=customer, code=code, series=series,
                          business=business.name, key=f"campaign:{row.id}:{subject}", now=now)
    return out


def notify_coupon(session: Session, *, customer: str, code: issuing.IssuedCode, series: Series,
                  business: str, key: str, now: datetime) -> int | None:
    """Tell the customer about a new coupon: its QR attached (email) and its short serial,
    unless the series shows its code only once redeemed."""
    shown = series.code_visibility != Visibility.ON_REDEEM
    text = f"{business}: a coupon for you, {series.name}."
    files: list[tuple[str, str, bytes]] = []
    if shown:
        text += f" Show its QR at the counter or tell the number {code.short_serial}."
        files.append(("coupon.png", "image/png", qr_png(code.code, scale=EMAIL_QR_SCALE)))
    else:
        text += " It is in your wallet."
    return enqueue(session, customer=customer, kind="coupon", subject=f"{business}: {series.name}",
                   text=text, attachments=files, idempotency_key=key, now=now)


def run(session: Session, campaign_id: int, *, now: datetime) -> dict[str, Any]:
    """Issue a filter campaign's coupon to every selected customer who has none from it yet.

    Raises:
        NotFound: no such campaign.
        Conflict: ``not_a_filter_campaign``, ``closed`` (inactive or past ``valid_until``),
            ``unavailable`` (the series cannot issue that many; nothing is issued).
    """
    row = get(session, campaign_id, lock=True)
    if row.kind != "filter":
        raise Conflict("not_a_filter_campaign", f"campaign {campaign_id} is a {row.kind} "
                       "campaign")
    if not is_open(row, now):
        raise Conflict("closed", f"campaign {campaign_id} is closed")
    chosen = select_customers(session, row, now=now)
    done = set(session.scalars(select(CampaignIssue.subject)
                               .where(CampaignIssue.campaign_id == row.id)))
    todo = [c for c in chosen if c not in done]
    issue_to(session, row, [(c, c) for c in todo], now=now)
    return {"campaign": row.id, "matched": len(chosen), "issued": len(todo),
            "already": len(chosen) - len(todo)}


def on_check_closed(session: Session, check: Check, now: datetime) -> list[str]:
    """Issue the coupons of the business's open check campaigns that ``check`` matches.

    Called by the register's close path in its transaction (the check row is locked there), for
    a paid check with a customer; once per (campaign, check) whatever calls it again.

    Returns:
        The refs of the coupons issued now.
    """
    if check.status != "paid" or check.customer_id is None:
        return []
    camps = session.scalars(select(Campaign).where(
        Campaign.business_id == check.business_id, Campaign.kind == "check",
        Campaign.active.is_(True)).order_by(Campaign.id))
    refs: list[str] = []
    subject = f"check:{check.id}"
    for row in camps:
        if not is_open(row, now) or not check_matches(rule_of(row.filter), total=check.total,
                                                      lines=check.lines):
            continue
        if session.scalar(select(CampaignIssue.id).where(CampaignIssue.campaign_id == row.id,
                                                         CampaignIssue.subject == subject)):
            continue
        try:
            with session.begin_nested():  # a series that cannot issue must not fail the close
                codes = issue_to(session, row, [(subject, check.customer_id)], now=now)
        except Conflict as exc:
            log.warning("campaign %s gave nothing for check %s: %s", row.id, check.id, exc)
            continue
        refs.extend(c.ref for c in codes)
    return refs


def issued_count(session: Session, campaign_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(CampaignIssue)
                              .where(CampaignIssue.campaign_id == campaign_id)) or 0)
