"""Loyalty endpoints: businesses and rules, customers and cards, identify, visits, rewards.

Phone numbers arrive only in ``identify`` and ``customers`` bodies, are parsed to E.164 at once,
and leave only masked; nothing here logs a body.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.api.deps import HubContext, context, require
from hub.api.loyalty_schemas import (
    BusinessIn,
    CardRevokeIn,
    CorrectionIn,
    CustomerIn,
    IdentifyIn,
    RedeemIn,
    RewardIn,
    RulesIn,
    VisitIn,
)
from hub.auth import Principal
from hub.loyalty import beacons, identity, service, stats
from hub.loyalty.errors import UnknownCustomer
from hub.loyalty.limits import WindowLimiter
from hub.loyalty.models import Business, Reward
from hub.series import get_series
from venue import phone
from venue.errors import PhoneNumberError

router = APIRouter(prefix="/api/v1", tags=["loyalty"])
ADMIN = require("admin")
T = TypeVar("T")
_secret_lock = threading.Lock()


def retrying(fn: Callable[[], T], attempts: int = 3) -> T:
    """Run a write again when a concurrent twin won a unique constraint (it then reads the
    twin's stored answer: the idempotency key or phone hash now exists)."""
    for i in range(attempts):
        try:
            return fn()
        except IntegrityError:
            if i == attempts - 1:
                raise
    raise AssertionError("unreachable")


def secret(ctx: HubContext) -> identity.PhoneSecret:
    """The phone secret, read from the database once per process."""
    with _secret_lock:
        found = ctx.extra.get("phone_secret")
        if found is None:
            with ctx.db.write() as s:
                found = ctx.extra["phone_secret"] = identity.phone_secret(s)
        return found  # type: ignore[no-any-return]


def limiter(ctx: HubContext, name: str) -> WindowLimiter:
    lim: WindowLimiter = ctx.extra[name]
    return lim


def answer(body: dict[str, Any], status: int = 200) -> Response:
    """JSON encoded once, here (FastAPI's response model would walk the dict again): the
    kiosk's hot paths, identify and visits."""
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                    status_code=status, media_type="application/json")


def parse_phone(raw: str) -> str:
    try:
        return phone.normalize(raw)
    except PhoneNumberError as exc:
        raise HTTPException(422, [{"loc": ["body", "phone"], "msg": str(exc),
                                   "type": "value_error.phone"}]) from None


def _businesses(ctx: HubContext, asked: list[int]) -> list[int]:
    if asked:
        return asked
    with ctx.db.read() as s:
        return list(s.scalars(select(Business.id).order_by(Business.id)))


# --- businesses and rules (admin) -----------------------------------------------------------------


@router.post("/businesses", status_code=201)
def post_business(body: BusinessIn, ctx: HubContext = Depends(context),
                  _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.write() as s:
        row = Business(name=body.name, currency=body.currency, created_at=ctx.clock.now())
        s.add(row)
        s.flush()
        return {"id": row.id, "name": row.name, "currency": row.currency}


@router.put("/businesses/{business_id}/rules")
def put_rules(body: RulesIn, business_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
              ctx: HubContext = Depends(context),
              _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Replace a business's earning rules (fields left out take their defaults)."""
    now = ctx.clock.now()
    with ctx.db.write() as s:
        rules = service.get_rules(s, business_id, now=now)
        for name, value in body.model_dump().items():
            setattr(rules, name, value)
        rules.changed_at = now
    out = body.model_dump(mode="json")
    out["business"] = business_id
    return out


# --- customers --------------------------------------------------------------------------------


@router.post("/customers", status_code=201)
def post_customer(body: CustomerIn, response: Response, ctx: HubContext = Depends(context),
                  who: Principal = Depends(require("kiosk", "register", "admin"))
                  ) -> dict[str, Any]:
    """Register a customer who consented (201), or return the existing summary (200)."""
    if body.consent is not True:
        raise HTTPException(422, [{"loc": ["body", "consent"], "msg": "consent must be true",
                                   "type": "value_error"}])
    e164 = parse_phone(body.phone)
    sec = secret(ctx)
    businesses = _businesses(ctx, body.businesses)

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            customer, new = service.register(s, sec, e164, businesses, device=who.device,
                                             now=now)
            return service.summary(s, customer, businesses, now=now, new=new)

    out = retrying(run)
    if not out["new"]:
        response.status_code = 200
    return out


@router.post("/kiosk/identify")
def identify(body: IdentifyIn, ctx: HubContext = Depends(context),
             who: Principal = Depends(require("kiosk", "register", "admin"))) -> Response:
    """The customer summary for a phone number or a card; 404 for a stranger."""
    if not limiter(ctx, "identify_device").hit(who.device):
        raise HTTPException(429, "too many identifications from this device")
    sec = secret(ctx)
    e164 = None if body.phone is None else parse_phone(body.phone)
    if e164 is not None and not limiter(ctx, "identify_phone").hit(sec.lookup(e164)):
        raise HTTPException(429, "too many identifications of this number")
    businesses = _businesses(ctx, body.businesses)
    now = ctx.clock.now()
    with ctx.db.read() as s:
        if e164 is not None:
            customer = identity.by_phone(s, sec, e164)
        else:
            customer = identity.by_card(s, body.card or "")
        if customer is None:
            raise UnknownCustomer("unknown customer")
        return answer(service.summary(s, customer, businesses, now=now))


@router.post("/customers/{customer_id}/cards", status_code=201)
def post_card(customer_id: Annotated[str, Path(pattern=r"^c_[0-9a-f]{16}$")],
              ctx: HubContext = Depends(context),
              _: Principal = Depends(require("register", "admin"))) -> dict[str, Any]:
    """A new digital card for a customer: the token (for its QR) is shown only here."""
    with ctx.db.write() as s:
        return {"card": identity.issue_card(s, customer_id, now=ctx.clock.now()),
                "customer": customer_id}


@router.post("/customers/{customer_id}/installs", status_code=201)
def post_install(customer_id: Annotated[str, Path(pattern=r"^c_[0-9a-f]{16}$")],
                 ctx: HubContext = Depends(context),
                 _: Principal = Depends(require("register", "admin"))) -> dict[str, Any]:
    """Register the customer's venue app: the secret behind its rotating iBeacon pair (shown
    only here; the app keeps it)."""
    with ctx.db.write() as s:
        install, sec = beacons.new_install(s, customer_id, now=ctx.clock.now())
    return {"install": install, "customer": customer_id,
            "secret": base64.b64encode(sec).decode()}


@router.post("/cards/revoke")
def revoke_card(body: CardRevokeIn, ctx: HubContext = Depends(context),
                _: Principal = Depends(require("register", "admin"))) -> dict[str, Any]:
    with ctx.db.write() as s:
        return {"revoked": identity.revoke_card(s, body.card, now=ctx.clock.now())}


# --- visits and rewards -------------------------------------------------------------------------


@router.post("/visits")
def post_visit(body: VisitIn, ctx: HubContext = Depends(context),
               who: Principal = Depends(require("kiosk", "beacon", "admin"))) -> Response:
    """Credit a visit once per cooldown (decided under the member's row lock)."""
    device = (body.device or who.device) if who.role == "admin" else who.device

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            return service.credit_visit(s, customer_id=body.customer, business_id=body.business,
                                        source=body.source, device=device,
                                        key=body.idempotency_key, at=body.at or now, now=now)

    return answer(retrying(run))


@router.post("/rewards", status_code=201)
def post_reward(body: RewardIn, ctx: HubContext = Depends(context),
                _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.write() as s:
        service.get_business(s, body.business)
        get_series(s, body.series)
        row = Reward(business_id=body.business, name=body.name, cost=body.cost,
                     series_id=body.series, image=body.image, active=True,
                     created_at=ctx.clock.now())
        s.add(row)
        s.flush()
        return {"id": row.id, "business": row.business_id, "name": row.name, "cost": row.cost,
                "series": row.series_id, "image": row.image}


@router.post("/rewards/{reward_id}/redeem", status_code=201)
def post_redeem(body: RedeemIn, reward_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                ctx: HubContext = Depends(context),
                who: Principal = Depends(require("kiosk", "register", "admin"))
                ) -> dict[str, Any]:
    """Spend points on a reward and issue its coupon into the wallet, atomically."""

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            return service.redeem(s, reward_id, customer_id=body.customer,
                                  key=body.idempotency_key, device=who.device, now=now)

    return retrying(run)


@router.post("/ledger/corrections", status_code=201)
def post_correction(body: CorrectionIn, ctx: HubContext = Depends(context),
                    who: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Correct a balance with a new ledger row (a goodwill credit, a mistaken visit undone)."""

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            return service.correct(s, business_id=body.business, customer_id=body.customer,
                                   account=body.account, delta=body.delta, note=body.note,
                                   key=body.idempotency_key, device=who.device, now=now,
                                   expires_at=body.expires_at)

    return retrying(run)


@router.get("/businesses/{business_id}/stats")
def get_stats(business_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
              days: Annotated[int, Query(ge=1, le=stats.MAX_DAYS)] = 30,
              ctx: HubContext = Depends(context),
              _: Principal = Depends(require("admin", "register"))) -> list[dict[str, Any]]:
    """Per UTC day: visits, points earned and spent, rewards redeemed, checks paid."""
    with ctx.db.read() as s:
        service.get_business(s, business_id)
        return stats.daily(s, business_id, days=days, now=ctx.clock.now())
