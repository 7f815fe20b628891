"""Gifts and passes: lottery, gift sets, prepaid top-ups, catalog items sold as tickets, coupon
benefits on checks.

Every write takes an idempotency key (or is configuration by an admin) and runs through
:func:`hub.api.loyalty.retrying`, so a twin that lost a unique-constraint race reads the answer
the winner stored.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field
from sqlalchemy import select

from hub.api.deps import HubContext, context, require
from hub.api.gift_schemas import (
    BenefitIn,
    CodesIn,
    GiftRedeemIn,
    GiftSetIn,
    ItemSeriesIn,
    LotteryIn,
    LotteryPatch,
    PlayIn,
    PrizesIn,
    TopupIn,
)
from hub.api.loyalty import retrying
from hub.auth import Principal
from hub.delivery import qr_png, qr_svg
from hub.loyalty import giftcodes, giftsets, lottery, passes, prepaid, sales, stats
from hub.loyalty.gift_models import GiftCode
from hub.loyalty.models import Business
from hub.loyalty.service import get_business, get_customer
from hub.series import NotFound

router = APIRouter(prefix="/api/v1", tags=["gifts"])
ADMIN = require("admin")
RowPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
BusinessQuery = Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Query(max_length=50)]


def randbelow(ctx: HubContext) -> lottery.RandBelow:
    """The lottery's random source: the OS's, unless a test put a seeded one in ``extra``."""
    fn: lottery.RandBelow = ctx.extra.get("lottery_randbelow", secrets.randbelow)
    return fn


# --- lottery -----------------------------------------------------------------------------------


@router.get("/lotteries")
def get_lotteries(business: BusinessQuery = [],  # noqa: B006 (FastAPI copies defaults)
                  ctx: HubContext = Depends(context),
                  _: Principal = Depends(require("kiosk", "register", "admin"))
                  ) -> dict[str, Any]:
    """The running lotteries of these businesses (all when none is named): active, with a
    prize left."""
    with ctx.db.read() as s:
        shown = business or list(s.scalars(select(Business.id)))
        return {"lotteries": [{k: v for k, v in lottery.lottery_json(row).items()
                               if k != "active"}
                              for row in lottery.running(s, shown)]}


@router.post("/lotteries", status_code=201)
def post_lottery(body: LotteryIn, ctx: HubContext = Depends(context),
                 _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.write() as s:
        return lottery.lottery_json(lottery.create(s, business_id=body.business, name=body.name,
                                                   text=body.text, now=ctx.clock.now()))


@router.patch("/lotteries/{lottery_id}")
def patch_lottery(body: LotteryPatch, lottery_id: RowPath, ctx: HubContext = Depends(context),
                  _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Switch a lottery off (plays get 409 ``ended``) or on again."""
    with ctx.db.write() as s:
        return lottery.lottery_json(lottery.set_active(s, lottery_id, body.active))


@router.put("/lotteries/{lottery_id}/prizes")
def put_prizes(body: PrizesIn, lottery_id: RowPath, ctx: HubContext = Depends(context),
               _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Upload the prize list (replaces the previous one)."""
    specs = [lottery.PrizeSpec(p.name, p.series, p.weight, p.count) for p in body.prizes]
    with ctx.db.write() as s:
        return {"prizes": [lottery.prize_json(p) for p in lottery.set_prizes(s, lottery_id,
                                                                              specs)]}


@router.get("/lotteries/{lottery_id}/prizes")
def get_prizes(lottery_id: RowPath, ctx: HubContext = Depends(context),
               _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.read() as s:
        lottery.get_lottery(s, lottery_id)
        return {"prizes": [lottery.prize_json(p) for p in lottery.prizes_of(s, lottery_id)]}


@router.post("/lotteries/{lottery_id}/codes", status_code=201)
def post_lottery_codes(body: CodesIn, lottery_id: RowPath, ctx: HubContext = Depends(context),
                       _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Generate ``count`` codes, or import ``codes``; the answer lists them (to print)."""
    with ctx.db.write() as s:
        return {"codes": lottery.make_codes(s, lottery_id, count=body.count,
                                            texts=body.codes or (), now=ctx.clock.now())}


@router.get("/lotteries/{lottery_id}/codes")
def get_lottery_codes(lottery_id: RowPath, ctx: HubContext = Depends(context),
                      _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.read() as s:
        lottery.get_lottery(s, lottery_id)
        return {"codes": giftcodes.list_codes(s, lottery.KIND, lottery_id)}


@router.post("/lotteries/play", status_code=201)
def post_play(body: PlayIn, ctx: HubContext = Depends(context),
              who: Principal = Depends(require("kiosk", "register", "admin"))
              ) -> dict[str, Any]:
    """Play a scanned or typed lottery code once: a prize, its coupon into the wallet."""
    rand = randbelow(ctx)

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return lottery.play(s, customer_id=body.customer, text=body.code,
                                key=body.idempotency_key, device=who.device,
                                now=ctx.clock.now(), randbelow=rand)

    return retrying(run)


@router.get("/gift-codes/{code}/qr.{fmt}")
def get_gift_code_qr(code: Annotated[str, Path(min_length=4, max_length=64)],
                     fmt: Annotated[str, Path(pattern=r"^(png|svg)$")],
                     ctx: HubContext = Depends(context),
                     _: Principal = Depends(ADMIN)) -> Response:
    """A lottery or gift-set code as a QR image, to print (it holds the code's text)."""
    try:
        text = giftcodes.normalize(code)
    except ValueError:
        raise NotFound("unknown gift code") from None
    with ctx.db.read() as s:
        if s.scalar(select(GiftCode.id).where(GiftCode.code == text)) is None:
            raise NotFound("unknown gift code")
    if fmt == "png":
        return Response(qr_png(text), media_type="image/png")
    return Response(qr_svg(text), media_type="image/svg+xml")


# --- gift sets ---------------------------------------------------------------------------------


@router.post("/giftsets", status_code=201)
def post_giftset(body: GiftSetIn, ctx: HubContext = Depends(context),
                 _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """A gift set: one code gives one coupon of each series listed (a series may repeat)."""
    with ctx.db.write() as s:
        return giftsets.create(s, business_id=body.business, name=body.name,
                               series=body.series, now=ctx.clock.now())


@router.post("/giftsets/{giftset_id}/codes", status_code=201)
def post_giftset_codes(body: CodesIn, giftset_id: RowPath, ctx: HubContext = Depends(context),
                       _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.write() as s:
        return {"codes": giftsets.make_codes(s, giftset_id, count=body.count,
                                             texts=body.codes or (), now=ctx.clock.now())}


@router.get("/giftsets/{giftset_id}/codes")
def get_giftset_codes(giftset_id: RowPath, ctx: HubContext = Depends(context),
                      _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.read() as s:
        giftsets.get_giftset(s, giftset_id)
        return {"codes": giftcodes.list_codes(s, giftsets.KIND, giftset_id)}


@router.post("/giftsets/redeem", status_code=201)
def post_giftset_redeem(body: GiftRedeemIn, ctx: HubContext = Depends(context),
                        who: Principal = Depends(require("kiosk", "register", "admin"))
                        ) -> dict[str, Any]:
    """Redeem a gift set code: all of its coupons into the customer's wallet, once."""

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return giftsets.redeem(s, customer_id=body.customer, text=body.code,
                                   key=body.idempotency_key, device=who.device,
                                   now=ctx.clock.now())

    return retrying(run)


# --- prepaid -----------------------------------------------------------------------------------


@router.post("/prepaid/topup", status_code=201)
def post_topup(body: TopupIn, ctx: HubContext = Depends(context),
               who: Principal = Depends(require("register", "admin"))) -> dict[str, Any]:
    """Money left at the register onto the customer's prepaid account (once per key)."""

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return prepaid.topup(s, customer_id=body.customer, business_id=body.business,
                                 amount=Decimal(body.amount), key=body.idempotency_key,
                                 device=who.device, now=ctx.clock.now())

    return retrying(run)


# --- catalog items sold as tickets, coupons worth something on a check ---------------------------


@router.put("/catalog/items/{item_id}/series")
def put_item_series(body: ItemSeriesIn, item_id: RowPath, ctx: HubContext = Depends(context),
                    _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Sell an item as tickets/coupons/passes of a series: each unit paid issues one code."""
    with ctx.db.write() as s:
        return sales.bind_item(s, item_id, body.series)


@router.put("/coupon-benefits/{series_id}")
def put_benefit(body: BenefitIn, series_id: RowPath, ctx: HubContext = Depends(context),
                _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """What a coupon of the series takes off a check of the business: an amount, a percent,
    or one unit of an item. An unknown series or business is a 404 (not a foreign-key
    error at the insert)."""
    with ctx.db.write() as s:
        get_business(s, body.business)
        return sales.set_benefit(s, series_id, business_id=body.business, kind=body.kind,
                                 value=Decimal(body.value), item_id=body.item)


@router.get("/businesses/{business_id}/ticket-sales")
def get_ticket_sales(business_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                     days: Annotated[int, Query(ge=1, le=stats.MAX_DAYS)] = 30,
                     ctx: HubContext = Depends(context),
                     _: Principal = Depends(require("admin", "register"))
                     ) -> list[dict[str, Any]]:
    """Tickets sold through the catalog per UTC day and outlet (register device)."""
    with ctx.db.read() as s:
        get_business(s, business_id)
        return stats.ticket_sales(s, business_id, days=days, now=ctx.clock.now())


# --- passes ------------------------------------------------------------------------------------


@router.get("/customers/{customer_id}/passes")
def get_passes(customer_id: Annotated[str, Path(pattern=r"^c_[0-9a-f]{16}$")],
               business: BusinessQuery = [],  # noqa: B006 (FastAPI copies defaults)
               ctx: HubContext = Depends(context),
               _: Principal = Depends(require("kiosk", "register", "admin"))
               ) -> dict[str, Any]:
    """The customer's passes (codes good for several entries) with the entries left."""
    with ctx.db.read() as s:
        get_customer(s, customer_id)
        shown = business or list(s.scalars(select(Business.id)))
        return {"passes": passes.passes_of(s, customer_id, shown, now=ctx.clock.now())}
