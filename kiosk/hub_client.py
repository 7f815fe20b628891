"""The kiosk's HTTP client for the hub's loyalty and self-checkout API (docs/contracts.md).

One keep-alive ``requests.Session`` (a customer waits at the screen: no TCP handshake per call),
short timeouts, answers parsed into the frozen dataclasses of :mod:`kiosk.models`, and every
failure mapped to one :class:`~kiosk.models.HubReason`. Anything that is not a clear answer (no
connection, a timeout, a 5xx, an answer we cannot read, a token the hub refuses) is ``offline``:
the kiosk then behaves as offline rather than guessing. Calls block, so the app runs them on its
worker thread, never on the UI thread. Neither URLs nor logs ever hold the phone number.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from kiosk.models import (
    Balance,
    Catalog,
    Category,
    CheckResult,
    Claim,
    Coupon,
    HubError,
    HubReason,
    Item,
    Lottery,
    LotteryPlay,
    OrderLine,
    PromoCoupon,
    Promotion,
    Redemption,
    Reward,
    Summary,
    VisitRequest,
    VisitResult,
)
from venue.messages import parse_time, rfc3339

log = logging.getLogger("venue.kiosk.hub")

OFFLINE = HubReason.OFFLINE
MAX_ANSWER = 4 * 1024 * 1024
"""Largest answer read (a catalog with many items is well under it)."""


class HttpHubClient:
    """:class:`~kiosk.models.HubClient` over HTTP.

    Args:
        base_url: The hub, e.g. ``http://hub.local:8080``.
        token: Bearer token of role ``kiosk``.
        timeout: Seconds per request (connect and read).
        session: A ``requests.Session`` to use (tests may pass one with adapters mounted).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 2.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "venue-kiosk"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    # -- the contract ------------------------------------------------------------------------------

    def identify(
        self, *, phone: str | None = None, card: str | None = None, businesses: list[int]
    ) -> Summary:
        """Who is this phone number or card? Raises ``unknown_customer`` for a stranger."""
        body: dict[str, Any] = {"businesses": list(businesses)}
        if phone is not None:
            body["phone"] = phone
        elif card is not None:
            body["card"] = card
        else:
            raise ValueError("identify needs a phone or a card")
        return parse_summary(self._call("POST", "/api/v1/kiosk/identify", body, ok=(200,)))

    def register(self, *, phone: str, businesses: list[int]) -> Summary:
        """Register a customer who consented on the screen (the only call that sends consent)."""
        body = {"phone": phone, "consent": True, "businesses": list(businesses)}
        return parse_summary(self._call("POST", "/api/v1/customers", body, ok=(200, 201)))

    def credit_visit(self, visit: VisitRequest) -> VisitResult:
        """Reward a visit; a repeated idempotency key returns the first answer."""
        body = {
            "customer": visit.customer,
            "business": visit.business,
            "source": visit.source,
            "device": visit.device,
            "idempotency_key": visit.idempotency_key,
            "at": rfc3339(visit.at),
        }
        data = self._call("POST", "/api/v1/visits", body, ok=(200, 201))
        try:
            return VisitResult(
                business=visit.business,
                credited=bool(data["credited"]),
                reason=str(data.get("reason") or ("ok" if data["credited"] else "")),
                points=int(data.get("points") or 0),
                balance=_opt_int(data.get("balance")),
                next_at=_opt_time(data.get("next_at")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable("visit", exc) from None

    def redeem(self, reward: int, *, customer: str, idempotency_key: str) -> Redemption:
        """Spend points on a reward; ``insufficient_points`` changes nothing."""
        body = {"customer": customer, "idempotency_key": idempotency_key}
        data = self._call("POST", f"/api/v1/rewards/{int(reward)}/redeem", body, ok=(200, 201))
        try:
            return Redemption(coupon=parse_coupon(data["coupon"]), balance=int(data["balance"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable("redemption", exc) from None

    def catalog(self, business: int) -> Catalog:
        """The shop's categories and items."""
        data = self._call("GET", f"/api/v1/catalog?business={int(business)}", None, ok=(200,))
        try:
            return Catalog(
                business=business,
                categories=tuple(
                    Category(int(c["id"]), str(c["name"])) for c in data.get("categories", [])
                ),
                items=tuple(parse_item(i) for i in data.get("items", [])),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise _unreadable("catalog", exc) from None

    def submit_check(
        self,
        *,
        customer: str | None,
        business: int,
        lines: list[OrderLine],
        idempotency_key: str,
        device: str,
    ) -> CheckResult:
        """Queue an order for the register; ``unavailable`` names the items that are not."""
        body = {
            "customer": customer,
            "business": business,
            "lines": [{"item": ln.item, "qty": ln.qty} for ln in lines],
            "idempotency_key": idempotency_key,
            "device": device,
        }
        data = self._call("POST", "/api/v1/checks", body, ok=(200, 201))
        try:
            return CheckResult(
                check=int(data["check"]),
                number=str(data["number"]),
                total=Decimal(str(data["total"])),
                currency=str(data["currency"]),
                qr=str(data["qr"]),
                status=str(data.get("status", "queued")),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise _unreadable("check", exc) from None

    def media(self, path: str) -> bytes | None:
        """An image the hub serves (``/api/v1/media/...``); ``None`` when it cannot be had."""
        if not path.startswith("/api/v1/media/"):
            return None
        try:
            r = self.session.get(self.base_url + path, timeout=self.timeout, stream=True)
            if r.status_code != 200:
                r.close()
                return None
            return _read_by(r, time.monotonic() + 2 * self.timeout)
        except requests.RequestException:
            return None

    def lotteries(self, businesses: list[int]) -> tuple[Lottery, ...]:
        """The lotteries running now at ``businesses`` (Rewards shows "Play" when any)."""
        data = self._call("GET", "/api/v1/lotteries" + _businesses_query(businesses), None,
                          ok=(200,))
        try:
            return tuple(
                Lottery(id=int(x["id"]), business=int(x["business"]), name=str(x["name"]),
                        text=str(x.get("text") or ""))
                for x in data.get("lotteries", [])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable("lotteries", exc) from None

    def play_lottery(self, *, customer: str, code: str, idempotency_key: str) -> LotteryPlay:
        """Play a scanned or typed code: ``unknown_code`` (404), ``already_played`` (409)."""
        body = {"customer": customer, "code": code, "idempotency_key": idempotency_key}
        data = self._call("POST", "/api/v1/lotteries/play", body, ok=(200, 201))
        try:
            lottery = data["lottery"]
            prize = data.get("prize")
            coupon = prize.get("coupon") if isinstance(prize, dict) else None
            return LotteryPlay(
                lottery=int(lottery["id"]),
                lottery_name=str(lottery.get("name") or ""),
                prize=str(prize["name"]) if isinstance(prize, dict) and prize.get("name")
                else None,
                coupon=parse_coupon(coupon) if isinstance(coupon, dict) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable("lottery play", exc) from None

    def promotions(self, businesses: list[int]) -> tuple[Promotion, ...]:
        """The promotions running now at ``businesses``, newest first."""
        data = self._call("GET", "/api/v1/promotions" + _businesses_query(businesses), None,
                          ok=(200,))
        try:
            return tuple(parse_promotion(x) for x in data.get("promotions", []))
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable("promotions", exc) from None

    def claim_promotion(self, promotion: int, *, customer: str, idempotency_key: str) -> Claim:
        """Take a promotion's coupon: ``already_claimed``, ``insufficient_points``, ``ended``."""
        body = {"customer": customer, "idempotency_key": idempotency_key}
        data = self._call("POST", f"/api/v1/promotions/{int(promotion)}/claim", body,
                          ok=(200, 201))
        try:
            return Claim(coupon=parse_coupon(data["coupon"]),
                         balance=_opt_int(data.get("balance")))
        except (KeyError, TypeError, ValueError) as exc:
            raise _unreadable("claim", exc) from None

    def ping(self) -> bool:
        """True when the hub answers its health check (used to leave offline mode)."""
        try:
            r = self.session.get(self.base_url + "/health", timeout=self.timeout)
        except requests.RequestException:
            return False
        return r.status_code == 200

    def close(self) -> None:
        self.session.close()

    # -- plumbing ----------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, *, ok: tuple[int, ...]
    ) -> dict[str, Any]:
        # requests' timeout bounds each read, not the answer: a body trickling in byte by byte
        # would hold the customer for ever. The body is read against a total deadline instead.
        deadline = time.monotonic() + 2 * self.timeout
        try:
            r = self.session.request(method, self.base_url + path, json=body,
                                     timeout=self.timeout, stream=True)
            content = _read_by(r, deadline)
            if content is None:
                raise HubError(OFFLINE, f"hub answer to {path} too slow or too large")
        except requests.Timeout:
            raise HubError(OFFLINE, f"hub did not answer {path} within {self.timeout}s") from None
        except requests.RequestException as exc:
            raise HubError(OFFLINE, f"hub unreachable: {exc.__class__.__name__}") from None
        try:
            data = json.loads(content) if content else {}
        except ValueError:
            data = None
        if r.status_code in ok and isinstance(data, dict):
            return data
        raise map_error(path, r.status_code, data)


def _read_by(r: requests.Response, deadline: float) -> bytes | None:
    """The body, or ``None`` when it is not complete by ``deadline`` (or over MAX_ANSWER).

    ``read1`` returns whatever has arrived, so the deadline is checked between reads of a body
    that trickles in; each read itself is bounded by the per-read timeout.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = r.raw.read1(64 * 1024, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline or size > MAX_ANSWER:
                return None
    finally:
        r.close()


def map_error(path: str, status: int, data: Any) -> HubError:
    """The :class:`HubError` for an HTTP answer that is not the one asked for."""
    detail = data.get("detail") if isinstance(data, dict) else None
    if status == 404 and path.endswith("/identify"):
        return HubError(HubReason.UNKNOWN_CUSTOMER, "unknown customer")
    if status == 422 and path.endswith(("/identify", "/customers")):
        return HubError(HubReason.INVALID_PHONE, _detail_text(detail))
    if status in (404, 422) and path.endswith("/lotteries/play"):
        return HubError(HubReason.UNKNOWN_CODE, "unknown lottery code")
    if status == 404 and path.endswith("/claim"):
        return HubError(HubReason.ENDED, "no such promotion")
    if status == 429:
        return HubError(HubReason.RATE_LIMITED, "too many attempts")
    if status == 409 and isinstance(detail, dict):
        reason = detail.get("reason")
        if reason == HubReason.INSUFFICIENT_POINTS:
            return HubError(
                HubReason.INSUFFICIENT_POINTS,
                "not enough points",
                balance=_opt_int(detail.get("balance")),
                cost=_opt_int(detail.get("cost")),
            )
        if reason in (HubReason.ALREADY_PLAYED, HubReason.ALREADY_CLAIMED, HubReason.NO_COUPON,
                      HubReason.ENDED, HubReason.NO_PRIZES):
            return HubError(HubReason(reason), str(reason))
        if reason == HubReason.UNAVAILABLE:
            items = detail.get("items") if isinstance(detail.get("items"), list) else []
            return HubError(HubReason.UNAVAILABLE, "items unavailable", items=items)
    if status in (401, 403):
        log.error("hub refused the kiosk's token on %s (%d): check kiosk.hub_token", path, status)
    else:
        log.warning("hub answered %s with %d", path, status)
    return HubError(OFFLINE, f"hub answered {status}")


def _businesses_query(businesses: list[int]) -> str:
    return "?" + "&".join(f"business={int(b)}" for b in businesses) if businesses else ""


def _detail_text(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg", "invalid phone number"))
    return "invalid phone number"


def _unreadable(what: str, exc: Exception) -> HubError:
    log.warning("cannot read the hub's %s answer: %r", what, exc)
    return HubError(OFFLINE, f"unreadable {what} answer")


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_time(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_time(value)


def parse_coupon(c: dict[str, Any]) -> Coupon:
    return Coupon(
        ref=str(c["ref"]),
        series=int(c["series"]),
        name=str(c["name"]),
        business=int(c["business"]),
        status=str(c.get("status", "issued")),
        code=c.get("code"),
        serial=c.get("serial"),
        valid_until=_opt_time(c.get("valid_until")),
    )


def parse_promotion(x: dict[str, Any]) -> Promotion:
    c = x.get("coupon")
    return Promotion(
        id=int(x["id"]),
        business=int(x["business"]),
        title=str(x["title"]),
        text=str(x.get("text") or ""),
        image=x.get("image") or None,
        starts_at=_opt_time(x.get("starts_at")),
        ends_at=_opt_time(x.get("ends_at")),
        coupon=PromoCoupon(series=int(c["series"]), name=str(c["name"]),
                           cost=int(c.get("cost") or 0)) if isinstance(c, dict) else None,
    )


def parse_item(i: dict[str, Any]) -> Item:
    return Item(
        id=int(i["id"]),
        category=int(i["category"]),
        name=str(i["name"]),
        price=Decimal(str(i["price"])),
        currency=str(i.get("currency", "UAH")),
        image=i.get("image"),
        available=bool(i.get("available", True)),
    )


def parse_summary(data: dict[str, Any]) -> Summary:
    """A *summary* answer (identify, register) as a :class:`Summary`."""
    try:
        return Summary(
            customer=str(data["customer"]),
            masked_phone=str(data["masked_phone"]),
            new=bool(data.get("new", False)),
            balances=tuple(
                Balance(
                    business=int(b["business"]),
                    business_name=str(b.get("business_name", "")),
                    points=int(b.get("points", 0)),
                    bonus_points=int(b.get("bonus_points", 0)),
                    prepaid=Decimal(str(b.get("prepaid", "0.00"))),
                    currency=str(b.get("currency", "UAH")),
                )
                for b in data.get("balances", [])
            ),
            coupons=tuple(parse_coupon(c) for c in data.get("coupons", [])),
            rewards=tuple(
                Reward(
                    id=int(r["id"]),
                    business=int(r["business"]),
                    name=str(r["name"]),
                    cost=int(r["cost"]),
                    affordable=bool(r.get("affordable", False)),
                    image=r.get("image"),
                )
                for r in data.get("rewards", [])
            ),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise _unreadable("summary", exc) from None
