"""The FastAPI application: routers, error mapping, and the hub's services on ``app.state``.

Domain errors map to HTTP once, here: unknown things 404, limits and state conflicts 409, a bad
value the schema could not catch 422 naming the field (like FastAPI's own validation errors).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from hub.api import admin, earn, gates, gifts, loyalty, operators, outlets, shop, tickets, wallet
from hub.api.deps import HubContext
from hub.auth import TokenCache
from hub.db import Database
from hub.delivery import DeliveryUnavailable
from hub.importing import ImportFormatError
from hub.issuing import IssueError
from hub.keys import KeyError_
from hub.loyalty.errors import Conflict as LoyaltyConflict
from hub.loyalty.errors import UnknownCustomer
from hub.loyalty.limits import WindowLimiter
from hub.redemption import AnnulError
from hub.series import NotFound, SeriesError
from venue import __version__
from venue.clock import SYSTEM_CLOCK, Clock


def _safe(value: object) -> str:
    """Text that any encoder takes (unpaired surrogates become ``?``)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(
    db: Database,
    *,
    clock: Clock | None = None,
    annul_window: timedelta = timedelta(seconds=60),
    publish: Callable[[str, dict[str, Any]], object] | None = None,
    token_ttl: float = 5.0,
    identify_limits: tuple[int, int] = (60, 10),
) -> FastAPI:
    """The hub's HTTP API over ``db`` (already migrated; see :func:`hub.service.bootstrap`).

    ``identify_limits`` is (per device, per phone number) identifications per minute.
    """
    clock = clock or SYSTEM_CLOCK
    app = FastAPI(
        title="venue hub",
        version=__version__,
        description="Tickets, coupons and exactly-once redemption for the venue's devices.",
    )
    app.state.hub = HubContext(
        db=db, clock=clock, tokens=TokenCache(db, clock=clock, ttl=token_ttl),
        annul_window=annul_window, publish=publish,
    )
    app.include_router(gates.router)
    app.include_router(tickets.router)
    app.include_router(admin.router)
    app.include_router(loyalty.router)
    app.include_router(shop.router)
    for extra in (operators, earn, gifts, wallet, outlets):
        app.include_router(extra.router)
    per_device, per_phone = identify_limits
    # In the database, not in this process: replicas share one counter per device and number.
    app.state.hub.extra["identify_device"] = WindowLimiter(
        per_device, 60, db=db, scope="identify_device", clock=clock)
    app.state.hub.extra["identify_phone"] = WindowLimiter(
        per_phone, 60, db=db, scope="identify_phone", clock=clock)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        """Liveness, without a token (for load balancers and systemd checks)."""
        return {"ok": True, "version": __version__}

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the offending input, which can be text no encoder takes
        # (an unpaired surrogate from a JSON escape) and would turn a 422 into a 500; it would
        # also send a scanned ticket secret back. Name the field and the problem only.
        return _error(422, [{"loc": [p if isinstance(p, int) else _safe(p) for p in e["loc"]],
                             "msg": _safe(e.get("msg", "")), "type": _safe(e.get("type", ""))}
                            for e in exc.errors()])

    @app.exception_handler(DeliveryUnavailable)
    def _unavailable(_: Request, exc: DeliveryUnavailable) -> JSONResponse:
        return _error(501, str(exc))

    @app.exception_handler(NotFound)
    def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(UnknownCustomer)
    def _unknown_customer(_: Request, exc: UnknownCustomer) -> JSONResponse:
        return _error(404, "unknown customer")

    @app.exception_handler(LoyaltyConflict)
    def _loyalty_conflict(_: Request, exc: LoyaltyConflict) -> JSONResponse:
        return _error(409, exc.detail)

    @app.exception_handler(KeyError_)
    def _no_key(_: Request, exc: KeyError_) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(IssueError)
    def _issue(_: Request, exc: IssueError) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(AnnulError)
    def _annul(_: Request, exc: AnnulError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.exception_handler(SeriesError)
    def _series(_: Request, exc: SeriesError) -> JSONResponse:
        return _error(422, [{"loc": ["body", exc.field or "body"], "msg": str(exc),
                             "type": "value_error"}])

    @app.exception_handler(ImportFormatError)
    def _import(_: Request, exc: ImportFormatError) -> JSONResponse:
        return _error(422, [{"loc": ["body", "file"], "msg": str(exc), "type": "value_error"}])

    @app.exception_handler(OperationalError)
    def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        return _error(503, "the hub's database is not available; try again")

    return app
