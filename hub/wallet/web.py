"""The wallet page's routes: ``/w/{token}`` and its actions, ``/w`` (a new link by one-time
code), ``/s/{share}`` (a shared coupon) and ``/r/{code}`` (join with a referral code).

The token in the path is the only key: each route resolves it to a customer first and selects
everything by that customer. Refused links get a page saying why (403 not ours, 410 expired or
revoked) with the form that asks for a new one; JSON actions get the same statuses with a reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import select

from hub.api.deps import HubContext, context
from hub.api.loyalty import parse_phone, retrying, secret
from hub.config import WalletSection
from hub.loyalty import service
from hub.loyalty.errors import Conflict
from hub.loyalty.limits import WindowLimiter
from hub.loyalty.models import Business, Member
from hub.series import NotFound
from hub.wallet import links, page, profiles, promotions, referrals, sharing
from hub.wallet.links import LinkReason
from hub.wallet.models import WalletProfile
from hub.wallet.schemas import (
    AcceptIn,
    BirthdayIn,
    JoinIn,
    RequestIn,
    ShareIn,
    VerifyIn,
    WalletClaimIn,
)
from hub.wallet.view import wallet_view

router = APIRouter(tags=["wallet page"])
PAGE_HEADERS = {"Cache-Control": "private, no-cache", "Referrer-Policy": "no-referrer",
                "X-Robots-Tag": "noindex", "X-Content-Type-Options": "nosniff"}
PromoId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SAME_ANSWER = {"sent": True, "detail": "If this number has a wallet, a message is on its way."}


def wallet_config(ctx: HubContext) -> WalletSection:
    """``[wallet]`` of the running hub (set by :func:`hub.service.serve`), else the defaults."""
    cfg = ctx.extra.get("wallet_config")
    return cfg if isinstance(cfg, WalletSection) else WalletSection()


def _client_limit(ctx: HubContext, request: Request) -> None:
    """One-time codes and joins per client address and minute (no phone-number oracle)."""
    lim = ctx.extra.get("wallet_ip")
    if lim is None:
        lim = ctx.extra["wallet_ip"] = WindowLimiter(
            wallet_config(ctx).requests_per_ip_per_min, 60, db=ctx.db, scope="wallet_ip",
            clock=ctx.clock)
    host = request.client.host if request.client else "unknown"
    if not lim.hit(host):
        raise HTTPException(429, "too many requests; try again in a minute")


_REFUSED = {
    LinkReason.TAMPERED: (403, "This link is not valid",
                          "This is not a wallet link we sent. Ask for a new one below."),
    LinkReason.EXPIRED: (410, "This link has expired",
                         "Wallet links work for a limited time. Ask for a new one below."),
    LinkReason.REVOKED: (410, "This link no longer works",
                         "This link was replaced by a newer one. Ask for a new one below."),
}


class LinkRefused(Exception):
    def __init__(self, reason: LinkReason) -> None:
        super().__init__(reason)
        self.reason = reason


def _customer(ctx: HubContext, token: str) -> str:
    with ctx.db.read() as s:
        found = links.resolve(s, token, now=ctx.clock.now())
    if found.reason != LinkReason.OK or found.customer is None:
        raise LinkRefused(found.reason)
    return found.customer


def _refused_json(exc: LinkRefused) -> JSONResponse:
    status = _REFUSED[exc.reason][0]
    return JSONResponse({"detail": {"reason": str(exc.reason)}}, status_code=status)


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)


# --- pages ---------------------------------------------------------------------------------------


@router.get("/w", response_class=HTMLResponse)
def request_form() -> HTMLResponse:
    """Ask for a wallet link by phone number."""
    return _html(page.request_page("Your wallet", "Open your wallet with your phone number."))


@router.get("/w/sw.js")
def service_worker() -> Response:
    """The service worker that keeps the wallet page (and its QR codes) for offline use."""
    return Response(page.SERVICE_WORKER, media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/w/"})


@router.get("/w/{token}", response_class=HTMLResponse)
def wallet(token: str, accept: str | None = None,
           ctx: HubContext = Depends(context)) -> HTMLResponse:
    """The customer's wallet: balances, tickets and coupons with QR codes, promotions,
    referral link, birthday, history."""
    try:
        customer = _customer(ctx, token)
    except LinkRefused as exc:
        status, title, text = _REFUSED[exc.reason]
        return _html(page.request_page(title, text), status)
    share = accept if accept and 16 <= len(accept) <= 64 and accept.isascii() else None
    with ctx.db.read() as s:
        known = s.get(WalletProfile, customer) is not None
    if not known:  # the first visit makes the profile (and the referral code)
        with ctx.db.write() as s:
            profiles.profile_of(s, customer, now=ctx.clock.now())
    with ctx.db.read() as s:  # a page view takes no write lock
        view = wallet_view(s, customer, now=ctx.clock.now())
        offer = None if share is None else sharing.preview(s, share)
    return _html(page.wallet_page(view, token=token, base_url=wallet_config(ctx).base_url,
                                  accept=offer, share=share if offer else None))


@router.get("/s/{share}", response_class=HTMLResponse)
def share_landing(share: str, ctx: HubContext = Depends(context)) -> HTMLResponse:
    """A shared coupon's link: opens the friend's wallet (if this browser knows it) to accept."""
    found = None
    if 16 <= len(share) <= 64 and share.isascii():
        with ctx.db.read() as s:
            found = sharing.preview(s, share)
    if found is None:
        return _html(page.request_page("Unknown share", "This share link is not valid."), 404)
    return _html(page.share_page(found["name"], found["status"], share))


@router.get("/r/{code}", response_class=HTMLResponse)
def join_form(code: str, ctx: HubContext = Depends(context)) -> HTMLResponse:
    """A referral link: join with a phone number."""
    with ctx.db.read() as s:
        known = len(code) <= 16 and profiles.by_referral_code(s, code) is not None
    if not known:
        return _html(page.request_page("Unknown invitation", "This invitation is not valid."),
                     404)
    return _html(page.join_page(code))


# --- one-time codes --------------------------------------------------------------------------


@router.post("/w/request", status_code=202)
def request_code(body: RequestIn, request: Request,
                 ctx: HubContext = Depends(context)) -> dict[str, Any]:
    """Send a one-time code to this number; the same answer whether it has a wallet or not."""
    _client_limit(ctx, request)
    e164 = parse_phone(body.phone)
    sec = secret(ctx)
    with ctx.db.write() as s:
        links.request_code(s, sec, e164, wallet_config(ctx), now=ctx.clock.now())
    return SAME_ANSWER


@router.post("/w/verify", status_code=303, response_model=None)
def verify_code(body: VerifyIn, request: Request,
                ctx: HubContext = Depends(context)) -> Response:
    """A right code → 303 to a fresh wallet link; a wrong, used or expired one → 403."""
    _client_limit(ctx, request)
    e164 = parse_phone(body.phone)
    sec = secret(ctx)
    now = ctx.clock.now()
    cfg = wallet_config(ctx)
    with ctx.db.write() as s:
        customer = links.verify_code(s, sec, e164, body.otp, now=now)
        link = None if customer is None else links.issue_link(s, customer, cfg, now=now)
    if link is None:
        return JSONResponse({"detail": {"reason": "invalid_code"}}, status_code=403)
    return RedirectResponse(f"/w/{link.token}", status_code=303,
                            headers={"Referrer-Policy": "no-referrer"})


# --- actions of a wallet -----------------------------------------------------------------------


@router.post("/w/{token}/birthday", response_model=None)
def post_birthday(body: BirthdayIn, token: str,
                  ctx: HubContext = Depends(context)) -> JSONResponse | dict[str, Any]:
    try:
        customer = _customer(ctx, token)
    except LinkRefused as exc:
        return _refused_json(exc)
    if not profiles.valid_birthday(body.month, body.day):
        raise HTTPException(422, [{"loc": ["body", "day"], "msg": "no such day",
                                   "type": "value_error"}])
    with ctx.db.write() as s:
        profiles.set_birthday(s, customer, body.month, body.day, now=ctx.clock.now())
    return {"month": body.month, "day": body.day}


@router.post("/w/{token}/promotions/{promo_id}/claim", status_code=201, response_model=None)
def wallet_claim(body: WalletClaimIn, token: str, promo_id: PromoId,
                 ctx: HubContext = Depends(context)) -> JSONResponse | dict[str, Any]:
    """Claim a promotion's coupon from the wallet page (as the kiosk route, for this wallet)."""
    try:
        customer = _customer(ctx, token)
    except LinkRefused as exc:
        return _refused_json(exc)

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return promotions.claim(s, promo_id, customer_id=customer,
                                    key=f"wallet:{body.idempotency_key}", device="wallet",
                                    now=ctx.clock.now())

    return retrying(run)


@router.post("/w/{token}/share", status_code=201, response_model=None)
def post_share(body: ShareIn, token: str,
               ctx: HubContext = Depends(context)) -> JSONResponse | dict[str, Any]:
    """A share link (and its QR) for one of this wallet's coupons."""
    try:
        customer = _customer(ctx, token)
    except LinkRefused as exc:
        return _refused_json(exc)
    with ctx.db.write() as s:
        share = sharing.offer(s, customer, body.ref, now=ctx.clock.now())
    url = f"{wallet_config(ctx).base_url.rstrip('/')}/s/{share}"
    return {"url": url, "qr": page.qr_svg(url, scale=3)}


@router.post("/w/{token}/accept", status_code=201, response_model=None)
def post_accept(body: AcceptIn, token: str,
                ctx: HubContext = Depends(context)) -> JSONResponse | dict[str, Any]:
    """Accept a shared coupon into this wallet (the sharer's code stops working)."""
    try:
        customer = _customer(ctx, token)
    except LinkRefused as exc:
        return _refused_json(exc)

    def run() -> dict[str, Any]:
        with ctx.db.write() as s:
            return sharing.accept(s, customer, body.share, now=ctx.clock.now())

    return retrying(run)


@router.post("/r/{code}/join", status_code=202)
def join(body: JoinIn, code: str, request: Request,
         ctx: HubContext = Depends(context)) -> dict[str, Any]:
    """Join with a referral code: register the number (consent given), credit both bonuses if
    it is new, and send the wallet link to the number. The answer is the same either way."""
    _client_limit(ctx, request)
    if body.consent is not True:
        raise HTTPException(422, [{"loc": ["body", "consent"], "msg": "consent must be true",
                                   "type": "value_error"}])
    e164 = parse_phone(body.phone)
    sec = secret(ctx)
    cfg = wallet_config(ctx)
    if len(code) > 16:
        raise NotFound("unknown referral code")

    def run() -> None:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            profile = profiles.by_referral_code(s, code)
            if profile is None:
                raise NotFound("unknown referral code")
            businesses = list(s.scalars(select(Member.business_id).where(
                Member.customer_id == profile.customer_id))) or \
                list(s.scalars(select(Business.id)))
            customer, new = service.register(s, sec, e164, businesses, device="wallet",
                                             now=now)
            if new:
                try:
                    with s.begin_nested():
                        referrals.accept(s, referee=customer.id, code=code,
                                         businesses=businesses, device="wallet", now=now,
                                         window_s=cfg.referral_window_s)
                except Conflict:
                    pass
            links.send_link(s, customer.id, links.issue_link(s, customer.id, cfg, now=now),
                            now=now)

    retrying(run)
    return SAME_ANSWER
