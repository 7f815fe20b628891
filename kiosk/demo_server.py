"""The demo data source served over HTTP with the hub's loyalty contract (docs/contracts.md).

A stand-in until the hub implements the loyalty API (issue 5): it lets the kiosk's real HTTP
client (keep-alive session, timeouts, error mapping) run against a server on localhost, for
``bench/bench_kiosk.py`` and the client's tests. It is not the hub: no database, no ledger, one
process. Answers follow the contract's shapes and status codes (404 unknown customer, 422
invalid phone, 409 insufficient points / unavailable, 401 without the token).
"""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kiosk.demo import DemoHub
from kiosk.models import (
    Coupon,
    HubError,
    HubReason,
    OrderLine,
    Promotion,
    Summary,
    VisitRequest,
)
from venue.messages import parse_time, rfc3339

_REDEEM = re.compile(r"^/api/v1/rewards/(\d+)/redeem$")
_CLAIM = re.compile(r"^/api/v1/promotions/(\d+)/claim$")
_CONFLICTS = (HubReason.INSUFFICIENT_POINTS, HubReason.UNAVAILABLE, HubReason.ALREADY_PLAYED,
              HubReason.ALREADY_CLAIMED, HubReason.NO_COUPON, HubReason.ENDED)


def _coupon(c: Coupon) -> dict[str, Any]:
    return {"ref": c.ref, "series": c.series, "name": c.name, "business": c.business,
            "status": c.status, "code": c.code, "serial": c.serial,
            "valid_until": rfc3339(c.valid_until) if c.valid_until else None}


def _promotion(p: Promotion) -> dict[str, Any]:
    return {"id": p.id, "business": p.business, "title": p.title, "text": p.text,
            "image": p.image, "starts_at": rfc3339(p.starts_at) if p.starts_at else None,
            "ends_at": rfc3339(p.ends_at) if p.ends_at else None,
            "coupon": None if p.coupon is None else {
                "series": p.coupon.series, "name": p.coupon.name, "cost": p.coupon.cost}}


def summary_json(s: Summary) -> dict[str, Any]:
    """A :class:`Summary` in the contract's JSON shape."""
    return {
        "customer": s.customer, "masked_phone": s.masked_phone, "new": s.new,
        "balances": [{"business": b.business, "business_name": b.business_name,
                      "points": b.points, "bonus_points": b.bonus_points,
                      "prepaid": str(b.prepaid), "currency": b.currency} for b in s.balances],
        "coupons": [_coupon(c) for c in s.coupons],
        "rewards": [{"id": r.id, "business": r.business, "name": r.name, "cost": r.cost,
                     "affordable": r.affordable, "image": r.image} for r in s.rewards],
    }


def _money(d: Decimal) -> str:
    return f"{d:.2f}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # headers and body leave in one segment (flushed after each request)
    server: DemoHubServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # bodies may hold phone numbers; say nothing

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        token = self.server.token
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            self._send(401, {"detail": "not authenticated"})
            return False
        return True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            self._send(200, {"ok": True})
            return
        if not self._authorised():
            return
        query = parse_qs(url.query)
        if url.path == "/api/v1/catalog":
            business = int(query.get("business", ["1"])[0])
            self._answer(lambda: self._catalog(business))
            return
        hub = self.server.hub
        businesses = [int(b) for b in query.get("business", [])]
        if url.path == "/api/v1/lotteries":
            self._answer(lambda: {"lotteries": [
                {"id": x.id, "business": x.business, "name": x.name, "text": x.text}
                for x in hub.lotteries(businesses)]})
            return
        if url.path == "/api/v1/promotions":
            self._answer(lambda: {"promotions": [
                _promotion(x) for x in hub.promotions(businesses)]})
            return
        if url.path.startswith("/api/v1/media/"):
            data = hub.media(url.path)
            if data is None:
                self._send(404, {"detail": "no such media"})
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._send(404, {"detail": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(422, {"detail": [{"loc": ["body"], "msg": "invalid JSON"}]})
            return
        if not self._authorised():
            return
        hub = self.server.hub
        path = urlsplit(self.path).path
        if path == "/api/v1/kiosk/identify":
            self._answer(lambda: summary_json(hub.identify(
                phone=body.get("phone"), card=body.get("card"), businesses=body["businesses"])))
        elif path == "/api/v1/customers":
            if body.get("consent") is not True:
                self._send(422, {"detail": [{"loc": ["body", "consent"], "msg": "must be true"}]})
                return
            self._answer(lambda: summary_json(hub.register(
                phone=body["phone"], businesses=body["businesses"])), 201)
        elif path == "/api/v1/visits":
            visit = VisitRequest(body["customer"], int(body["business"]),
                                 body["idempotency_key"], parse_time(body["at"]), body["device"],
                                 body.get("source", "kiosk"))
            self._answer(lambda: self._visit(visit))
        elif (m := _REDEEM.match(path)) is not None:
            rid = int(m.group(1))
            self._answer(lambda: self._redeem(rid, body), 201)
        elif path == "/api/v1/checks":
            self._answer(lambda: self._check(body), 201)
        elif path == "/api/v1/lotteries/play":
            self._answer(lambda: self._play(body), 201)
        elif (m := _CLAIM.match(path)) is not None:
            pid = int(m.group(1))
            self._answer(lambda: self._claim(pid, body), 201)
        else:
            self._send(404, {"detail": "not found"})

    def _answer(self, fn: Any, status: int = 200) -> None:
        try:
            result = fn()
        except HubError as exc:
            if exc.reason == HubReason.UNKNOWN_CUSTOMER:
                self._send(404, {"detail": "unknown customer"})
            elif exc.reason == HubReason.INVALID_PHONE:
                self._send(422, {"detail": [{"loc": ["body", "phone"], "msg": str(exc)}]})
            elif exc.reason == HubReason.UNKNOWN_CODE:
                self._send(404, {"detail": "unknown lottery code"})
            elif exc.reason in _CONFLICTS:
                self._send(409, {"detail": {"reason": exc.reason.value, **exc.detail}})
            else:
                self._send(503, {"detail": str(exc)})
            return
        except (KeyError, TypeError, ValueError) as exc:
            self._send(422, {"detail": [{"loc": ["body"], "msg": str(exc)}]})
            return
        self._send(status, result)

    def _visit(self, visit: VisitRequest) -> dict[str, Any]:
        r = self.server.hub.credit_visit(visit)
        return {"credited": r.credited, "reason": r.reason, "points": r.points,
                "balance": r.balance, "next_at": rfc3339(r.next_at) if r.next_at else None}

    def _redeem(self, rid: int, body: dict[str, Any]) -> dict[str, Any]:
        r = self.server.hub.redeem(rid, customer=body["customer"],
                                   idempotency_key=body["idempotency_key"])
        return {"coupon": _coupon(r.coupon), "balance": r.balance}

    def _play(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.server.hub.play_lottery(customer=body["customer"], code=str(body["code"]),
                                         idempotency_key=body["idempotency_key"])
        prize = None if r.prize is None else {
            "name": r.prize, "coupon": _coupon(r.coupon) if r.coupon else None}
        return {"lottery": {"id": r.lottery, "name": r.lottery_name}, "prize": prize}

    def _claim(self, pid: int, body: dict[str, Any]) -> dict[str, Any]:
        r = self.server.hub.claim_promotion(pid, customer=body["customer"],
                                            idempotency_key=body["idempotency_key"])
        return {"coupon": _coupon(r.coupon), "balance": r.balance}

    def _catalog(self, business: int) -> dict[str, Any]:
        c = self.server.hub.catalog(business)
        return {"categories": [{"id": x.id, "name": x.name} for x in c.categories],
                "items": [{"id": i.id, "category": i.category, "name": i.name,
                           "price": _money(i.price), "currency": i.currency, "image": i.image,
                           "available": i.available} for i in c.items]}

    def _check(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.server.hub.submit_check(
            customer=body.get("customer"), business=int(body["business"]),
            lines=[OrderLine(int(ln["item"]), int(ln["qty"])) for ln in body["lines"]],
            idempotency_key=body["idempotency_key"], device=body["device"])
        return {"check": r.check, "number": r.number, "total": _money(r.total),
                "currency": r.currency, "qr": r.qr, "status": r.status}


class DemoHubServer(ThreadingHTTPServer):
    """``DemoHubServer(("127.0.0.1", 0), hub, token)``; ``.url`` once bound."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], hub: DemoHub, token: str | None = None) -> None:
        super().__init__(address, _Handler)
        self.hub = hub
        self.token = token
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DemoHubServer:
        self._thread = threading.Thread(target=self.serve_forever, name="demo-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


__all__ = ["DemoHubServer", "summary_json"]


def main(argv: list[str] | None = None) -> int:
    """``python -m kiosk.demo_server [--port N] [--token T]``: serve until interrupted.

    Prints ``listening URL`` on its first line, so a parent process can read where it is.
    """
    import argparse


    parser = argparse.ArgumentParser(prog="python -m kiosk.demo_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None)
    args = parser.parse_args(argv)
    server = DemoHubServer((args.host, args.port), DemoHub(), args.token)
    print(f"listening {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
