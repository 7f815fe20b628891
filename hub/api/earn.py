"""More ways to earn, over HTTP: customer contacts and tags, the notification listing, issuance
campaigns, fiscal-check claims and the public campaign QR.

Bodies are strict (unknown keys → 422); a customer's email arrives only in the contact body and
leaves only masked. Domain errors map in :mod:`hub.api.app` (404, 409 with a reason, 422 naming
the field).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import Field
from sqlalchemy import select

from hub.api.deps import HubContext, context, require
from hub.api.loyalty import retrying, secret
from hub.api.loyalty_schemas import BusinessId, CustomerId, IdemKey, Name, RowId
from hub.api.schemas import Strict, Timestamp
from hub.auth import Principal
from hub.loyalty import campaign_qr, campaigns, contacts, fiscal, tags
from hub.loyalty.earn_models import Campaign
from hub.loyalty.service import get_customer
from hub.notify import queue
from hub.series import NotFound

router = APIRouter(prefix="/api/v1", tags=["earn"])
ADMIN = require("admin")
CustomerPath = Annotated[str, Path(pattern=r"^c_[0-9a-f]{16}$")]
IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ContactIn(Strict):
    email: Annotated[str, Field(min_length=3, max_length=254)] | None


class TagsIn(Strict):
    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]],
                    Field(max_length=tags.MAX_TAGS)]


class CampaignIn(Strict):
    business: BusinessId
    name: Name
    kind: Literal["filter", "check"]
    series: RowId
    filter: dict[str, Any] = {}
    notify: bool = False
    valid_until: Timestamp | None = None


class FiscalIn(Strict):
    customer: CustomerId
    business: BusinessId
    qr: Annotated[str, Field(min_length=1, max_length=fiscal.MAX_QR)]
    idempotency_key: IdemKey


class CampaignQrIn(Strict):
    business: BusinessId
    name: Name
    series: RowId
    notify: bool = False
    valid_until: Timestamp | None = None


class CampaignQrClaimIn(Strict):
    customer: CustomerId
    code: Annotated[str, Field(min_length=1, max_length=64)]
    idempotency_key: IdemKey


def _invalid(field: str, msg: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", field], "msg": msg, "type": "value_error"}])


# --- contacts and tags -------------------------------------------------------------------------


@router.put("/customers/{customer_id}/contact")
def put_contact(body: ContactIn, customer_id: CustomerPath, ctx: HubContext = Depends(context),
                _: Principal = Depends(require("admin", "register", "kiosk"))
                ) -> dict[str, Any]:
    """Put the customer's email on file (encrypted; ``null`` removes it); answers it masked."""
    sec = secret(ctx)
    if body.email is not None:
        try:
            contacts.normalize_email(body.email)
        except contacts.BadEmail as exc:
            raise _invalid("email", str(exc)) from None
    with ctx.db.write() as s:
        row = contacts.set_email(s, sec, customer_id, body.email, now=ctx.clock.now())
        return {"customer": customer_id, "email": row.email_masked}


@router.put("/customers/{customer_id}/tags")
def put_tags(body: TagsIn, customer_id: CustomerPath, ctx: HubContext = Depends(context),
             _: Principal = Depends(require("admin", "register"))) -> dict[str, Any]:
    """Replace the customer's tags (``vip``...), which campaign filters select by."""
    try:
        tags.normalize(body.tags)
    except ValueError as exc:
        raise _invalid("tags", str(exc)) from None
    with ctx.db.write() as s:
        return {"customer": customer_id,
                "tags": tags.set_tags(s, customer_id, body.tags, now=ctx.clock.now())}


@router.get("/customers/{customer_id}/tags")
def get_tags(customer_id: CustomerPath, ctx: HubContext = Depends(context),
             _: Principal = Depends(require("admin", "register"))) -> dict[str, Any]:
    with ctx.db.read() as s:
        get_customer(s, customer_id)
        return {"customer": customer_id, "tags": tags.tags_of(s, customer_id)}


# --- notifications -----------------------------------------------------------------------------


@router.get("/notifications")
def get_notifications(
    status: Annotated[Literal["pending", "sent", "failed", "no_channel"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ctx: HubContext = Depends(context), _: Principal = Depends(ADMIN),
) -> list[dict[str, Any]]:
    """Newest first, recipients masked."""
    with ctx.db.read() as s:
        return [queue.message_json(m) for m in queue.listing(s, status=status, limit=limit)]


# --- campaigns ---------------------------------------------------------------------------------


@router.post("/campaigns", status_code=201)
def post_campaign(body: CampaignIn, ctx: HubContext = Depends(context),
                  _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """A campaign: ``filter`` (issued by ``POST /campaigns/{id}/run``) or ``check`` (issued
    when a paid check matches its rule)."""
    with ctx.db.write() as s:
        row = campaigns.create(s, business_id=body.business, name=body.name, kind=body.kind,
                               series_id=body.series, spec=body.filter, notify=body.notify,
                               valid_until=body.valid_until, now=ctx.clock.now())
        return campaigns.campaign_json(row, 0)


@router.get("/campaigns")
def list_campaigns(business: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                   ctx: HubContext = Depends(context),
                   _: Principal = Depends(ADMIN)) -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        stmt = select(Campaign).order_by(Campaign.id)
        if business is not None:
            stmt = stmt.where(Campaign.business_id == business)
        return [campaigns.campaign_json(r, campaigns.issued_count(s, r.id))
                for r in s.scalars(stmt.limit(1000))]


@router.post("/campaigns/{campaign_id}/run")
def run_campaign(campaign_id: IdPath, ctx: HubContext = Depends(context),
                 _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Issue the coupon to every customer the filter selects who has none from it yet:
    ``{campaign, matched, issued, already}``; running again issues only to new matches."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return campaigns.run(s, campaign_id, now=ctx.clock.now())

    return retrying(run)


@router.post("/campaigns/{campaign_id}/deactivate")
def deactivate_campaign(campaign_id: IdPath, ctx: HubContext = Depends(context),
                        _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    with ctx.db.write() as s:
        row = campaigns.get(s, campaign_id, lock=True)
        row.active = False
        return campaigns.campaign_json(row)


# --- fiscal claims -----------------------------------------------------------------------------


@router.post("/claims/fiscal", status_code=201)
def post_fiscal_claim(body: FiscalIn, ctx: HubContext = Depends(context),
                      who: Principal = Depends(require("kiosk", "register", "admin"))
                      ) -> dict[str, Any]:
    """Points for a paper check by its fiscal QR; once per check (409 ``already_claimed``)."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return fiscal.claim(s, business_id=body.business, customer_id=body.customer,
                                qr=body.qr, key=body.idempotency_key, device=who.device,
                                now=ctx.clock.now())

    return retrying(run)


# --- campaign QR -------------------------------------------------------------------------------


@router.post("/campaign-qr", status_code=201)
def post_campaign_qr(body: CampaignQrIn, ctx: HubContext = Depends(context),
                     _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """A poster's campaign: its signed code (what the QR holds) and where its PNG is."""
    with ctx.db.write() as s:
        row, code = campaign_qr.create(s, business_id=body.business, name=body.name,
                                       series_id=body.series, notify=body.notify,
                                       valid_until=body.valid_until, now=ctx.clock.now())
        out = campaigns.campaign_json(row, 0)
    out.update(code=code, png=f"/api/v1/campaign-qr/{row.id}.png")
    return out


@router.get("/campaign-qr/{campaign_id}.png")
def get_campaign_qr_png(campaign_id: IdPath, ctx: HubContext = Depends(context),
                        _: Principal = Depends(ADMIN)) -> Response:
    with ctx.db.write() as s:
        row = campaigns.get(s, campaign_id)
        if row.kind != "qr":
            raise NotFound(f"no campaign QR {campaign_id}")
        code = campaign_qr.code_for(s, campaign_id)
    return Response(campaign_qr.png(code), media_type="image/png")


@router.post("/campaign-qr/claim", status_code=201)
def post_campaign_qr_claim(body: CampaignQrClaimIn, ctx: HubContext = Depends(context),
                           who: Principal = Depends(require("kiosk", "register", "admin"))
                           ) -> dict[str, Any]:
    """The campaign's coupon for this customer, once (409 ``already_claimed``)."""
    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return campaign_qr.claim(s, code=body.code, customer_id=body.customer,
                                     key=body.idempotency_key, device=who.device,
                                     now=ctx.clock.now())

    return retrying(run)
