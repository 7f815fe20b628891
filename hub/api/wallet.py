"""The customer's wallet: promotions (operators and kiosks), wallet rules, series sharing,
wallet links issued by staff, referrals from kiosks; the wallet page itself is
:mod:`hub.wallet.web`, included here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import select

from hub.api.deps import HubContext, context, require
from hub.api.loyalty import retrying
from hub.auth import Principal
from hub.loyalty.models import Business
from hub.loyalty.service import get_business, get_customer
from hub.series import get_series
from hub.wallet import links, promotions, referrals, sharing, triggers
from hub.wallet.schemas import (
    ClaimIn,
    PromotionIn,
    ReferralIn,
    SharingIn,
    WalletLinkIn,
    WalletRulesIn,
)
from hub.wallet.web import router as web_router
from hub.wallet.web import wallet_config
from venue.messages import rfc3339

router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["wallet"])
STAFF = require("admin", "operator")
PromoId = Annotated[int, Path(ge=1, le=2**63 - 1)]
BusinessPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
SeriesPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
CustomerPath = Annotated[str, Path(pattern=r"^c_[0-9a-f]{16}$")]


def _spec(body: PromotionIn) -> promotions.PromotionSpec:
    return promotions.PromotionSpec(
        business=body.business, title=body.title, text=body.text, image=body.image,
        starts_at=body.starts_at, ends_at=body.ends_at, series=body.series, cost=body.cost,
        active=body.active)


# --- promotions --------------------------------------------------------------------------------


@api.get("/promotions")
def get_promotions(business: Annotated[list[int], Query(max_length=50)] = [],  # noqa: B006
                   all: bool = False,
                   ctx: HubContext = Depends(context),
                   who: Principal = Depends(require("kiosk", "register", "admin", "operator"))
                   ) -> dict[str, Any]:
    """The promotions running now, newest first (``all=true``: every one, for operators)."""
    everything = all and who.role in ("admin", "operator")
    with ctx.db.read() as s:
        return {"promotions": promotions.listing(s, [b for b in business if 0 < b < 2**31],
                                                 now=ctx.clock.now(), everything=everything)}


@api.post("/promotions", status_code=201)
def post_promotion(body: PromotionIn, ctx: HubContext = Depends(context),
                   _: Principal = Depends(STAFF)) -> dict[str, Any]:
    now = ctx.clock.now()
    with ctx.db.write() as s:
        promo = promotions.save(s, _spec(body), now=now)
        name = None if promo.series_id is None else get_series(s, promo.series_id).name
        return promotions.promotion_json(promo, name)


@api.put("/promotions/{promo_id}")
def put_promotion(body: PromotionIn, promo_id: PromoId, ctx: HubContext = Depends(context),
                  _: Principal = Depends(STAFF)) -> dict[str, Any]:
    """Replace a promotion (claims already made are kept)."""
    now = ctx.clock.now()
    with ctx.db.write() as s:
        promo = promotions.save(s, _spec(body), now=now, promo_id=promo_id)
        name = None if promo.series_id is None else get_series(s, promo.series_id).name
        return promotions.promotion_json(promo, name)


@api.delete("/promotions/{promo_id}")
def delete_promotion(promo_id: PromoId, ctx: HubContext = Depends(context),
                     _: Principal = Depends(STAFF)) -> dict[str, Any]:
    """Withdraw a promotion: it is no longer shown or claimable; its claims stay recorded."""
    with ctx.db.write() as s:
        promo = promotions.withdraw(s, promo_id, now=ctx.clock.now())
        return {"id": promo.id, "active": promo.active}


@api.post("/promotions/{promo_id}/claim", status_code=201)
def post_claim(body: ClaimIn, promo_id: PromoId, ctx: HubContext = Depends(context),
               who: Principal = Depends(require("kiosk", "register", "admin"))
               ) -> dict[str, Any]:
    """Claim a promotion's coupon for a customer: once per customer, points spent once."""

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            return promotions.claim(s, promo_id, customer_id=body.customer,
                                    key=body.idempotency_key, device=who.device, now=now)

    return retrying(run)


# --- rules, sharing, links, referrals -----------------------------------------------------------


@api.put("/businesses/{business_id}/wallet-rules")
def put_wallet_rules(body: WalletRulesIn, business_id: BusinessPath,
                     ctx: HubContext = Depends(context),
                     _: Principal = Depends(STAFF)) -> dict[str, Any]:
    """Replace a business's birthday, welcome, win-back and referral rules."""
    now = ctx.clock.now()
    with ctx.db.write() as s:
        get_business(s, business_id)
        if body.birthday_series is not None:
            get_series(s, body.birthday_series)
        triggers.set_rules(s, business_id, body.model_dump(), now=now)
    return {"business": business_id, **body.model_dump()}


@api.get("/businesses/{business_id}/wallet-rules")
def get_wallet_rules(business_id: BusinessPath, ctx: HubContext = Depends(context),
                     _: Principal = Depends(STAFF)) -> dict[str, Any]:
    with ctx.db.read() as s:
        get_business(s, business_id)
        return {"business": business_id, **triggers.rules_dict(s.get(triggers.WalletRules,
                                                                     business_id))}


@api.put("/series/{series_id}/sharing")
def put_sharing(body: SharingIn, series_id: SeriesPath, ctx: HubContext = Depends(context),
                _: Principal = Depends(STAFF)) -> dict[str, Any]:
    """Allow or forbid customers to share this series' coupons with friends."""
    with ctx.db.write() as s:
        get_series(s, series_id)
        sharing.set_shareable(s, series_id, body.shareable, now=ctx.clock.now())
    return {"series": series_id, "shareable": body.shareable}


@api.post("/customers/{customer_id}/wallet-link", status_code=201)
def post_wallet_link(body: WalletLinkIn, customer_id: CustomerPath,
                     ctx: HubContext = Depends(context),
                     _: Principal = Depends(require("admin", "operator", "register"))
                     ) -> dict[str, Any]:
    """A fresh wallet link for a customer (shown to staff, e.g. as a QR), sent if asked."""
    cfg = wallet_config(ctx)
    now = ctx.clock.now()
    with ctx.db.write() as s:
        get_customer(s, customer_id)
        link = links.issue_link(s, customer_id, cfg, now=now)
        sent = links.send_link(s, customer_id, link, now=now) if body.send else None
    return {"customer": customer_id, "url": link.url, "expires_at": link.expires_at_text,
            "notification": sent}


@api.post("/customers/{customer_id}/wallet-links/revoke")
def post_revoke_links(customer_id: CustomerPath, ctx: HubContext = Depends(context),
                      _: Principal = Depends(STAFF)) -> dict[str, Any]:
    """Every wallet link of this customer sent so far stops working (a lost or sold phone)."""
    with ctx.db.write() as s:
        since = links.revoke_links(s, customer_id, now=ctx.clock.now())
    return {"customer": customer_id, "links_since": rfc3339(since)}


@api.post("/referrals", status_code=201)
def post_referral(body: ReferralIn, ctx: HubContext = Depends(context),
                  who: Principal = Depends(require("kiosk", "register", "admin"))
                  ) -> dict[str, Any]:
    """A new customer joined with a referral code: credit referrer and referee once each."""

    def run() -> dict[str, Any]:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            businesses = body.businesses or list(s.scalars(select(Business.id)))
            return referrals.accept(s, referee=body.customer, code=body.code,
                                    businesses=businesses, device=who.device, now=now,
                                    window_s=wallet_config(ctx).referral_window_s)

    return retrying(run)


router.include_router(api)
router.include_router(web_router)
