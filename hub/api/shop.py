"""Catalog, media and self-checkout endpoints: kiosks submit checks, registers close them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from hub.api.deps import HubContext, context, require
from hub.api.loyalty import retrying
from hub.api.loyalty_schemas import MEDIA_NAME, CategoryIn, CheckIn, CloseIn, ItemIn, ItemPatch
from hub.auth import Principal
from hub.loyalty import shop
from hub.loyalty.models import Business, Item, Media
from hub.series import NotFound

router = APIRouter(prefix="/api/v1", tags=["shop"])
ADMIN = require("admin")
SHOP_READERS = require("kiosk", "register", "admin")
MAX_MEDIA = 2 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


@router.get("/catalog")
def get_catalog(business: Annotated[int, Query(ge=1, le=2**31 - 1)],
                ctx: HubContext = Depends(context),
                _: Principal = Depends(SHOP_READERS)) -> dict[str, Any]:
    with ctx.db.read() as s:
        return shop.catalog(s, business)


@router.post("/catalog/categories", status_code=201)
def post_category(body: CategoryIn, ctx: HubContext = Depends(context),
                  _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.write() as s:
        row = shop.add_category(s, body.business, body.name, body.position)
        return {"id": row.id, "business": row.business_id, "name": row.name}


@router.post("/catalog/items", status_code=201)
def post_item(body: ItemIn, ctx: HubContext = Depends(context),
              _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.write() as s:
        row = shop.add_item(s, business_id=body.business, category_id=body.category,
                            name=body.name, price=body.price, image=body.image,
                            available=body.available)
        business = s.get(Business, body.business)
        assert business is not None
        return shop.item_json(row, business.currency)


@router.patch("/catalog/items/{item_id}")
def patch_item(body: ItemPatch, item_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
               ctx: HubContext = Depends(context),
               _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Change an item's price, name or availability (sold out / back)."""
    with ctx.db.write() as s:
        row = s.get(Item, item_id)
        if row is None:
            raise NotFound(f"no item {item_id}")
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(row, name, value)
        business = s.get(Business, row.business_id)
        assert business is not None
        return shop.item_json(row, business.currency)


@router.put("/media/{name}", status_code=201)
async def put_media(name: Annotated[str, Path(pattern=MEDIA_NAME)],
                    request: Request, ctx: HubContext = Depends(context),
                    _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Upload an image (the request body, with its ``Content-Type``)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype not in IMAGE_TYPES:
        raise HTTPException(415, f"images only: {', '.join(IMAGE_TYPES)}")
    data = await request.body()
    if not data or len(data) > MAX_MEDIA:
        raise HTTPException(413, f"an image must be 1..{MAX_MEDIA} bytes")
    now: datetime = ctx.clock.now()
    with ctx.db.write() as s:
        row = s.get(Media, name)
        if row is None:
            s.add(Media(name=name, content_type=ctype, data=data, created_at=now))
        else:  # replacing an image is configuration, not a ledger
            row.content_type, row.data, row.created_at = ctype, data, now
    return {"name": name, "path": shop.media_path(name), "bytes": len(data)}


@router.get("/media/{name}")
def get_media(name: Annotated[str, Path(max_length=120)],
              ctx: HubContext = Depends(context)) -> Response:
    """Pictures of items, rewards and promotions, without a token.

    Customers see them on the wallet page (which has no bearer token) and on posters; they are
    the venue's marketing, never personal data, and only admins can upload them.
    """
    with ctx.db.read() as s:
        row = s.get(Media, name)
        if row is None:
            raise NotFound(f"no media {name}")
        return Response(row.data, media_type=row.content_type,
                        headers={"Cache-Control": "max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})


@router.post("/checks", status_code=201)
def post_check(body: CheckIn, ctx: HubContext = Depends(context),
               who: Principal = Depends(require("kiosk", "admin"))) -> dict[str, Any]:
    """Queue an order for the register; the same idempotency key returns the same check."""

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            check = shop.submit_check(
                s, business_id=body.business, customer_id=body.customer,
                lines=[(ln.item, ln.qty) for ln in body.lines], key=body.idempotency_key,
                device=who.device, now=ctx.clock.now(), coupons=body.coupons)
            return shop.checks_json(s, [check])[0]

    return retrying(run)


@router.get("/register/checks")
def register_queue(ctx: HubContext = Depends(context),
                   business: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                   status: Annotated[str, Query(pattern=r"^(queued|paid|cancelled)$")] = "queued",
                   _: Principal = Depends(require("register", "admin"))) -> list[dict[str, Any]]:
    """The register's queue: checks waiting to be taken and paid, oldest first."""
    with ctx.db.read() as s:
        return shop.checks_json(s, shop.queue(s, business, status))


@router.post("/register/checks/{check_id}/close")
def close_check(body: CloseIn, check_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                ctx: HubContext = Depends(context),
                who: Principal = Depends(require("register", "admin"))) -> dict[str, Any]:
    """Close a check: paid applies its coupons, takes a prepaid payment, issues its tickets and
    accrues points on what was paid, once; a repeat changes nothing."""
    with ctx.db.write() as s:
        check = shop.close_check(s, check_id, paid=body.paid, device=who.device,
                                 now=ctx.clock.now(), payment=body.payment,
                                 coupons=body.coupons)
        return shop.checks_json(s, [check])[0]
