"""Wallet test helpers: a cafe with a ticket in a customer's wallet, wallet links, and the
messages the notification queue holds for a customer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from loyaltykit import ADMIN_H, Seeded, ok, register, seed
from sqlalchemy import select

from hub.api.app import create_app
from hub.config import WalletSection
from hub.db import Database
from hub.notify.models import Message


def wallet_app(db: Database, clock: Any, **wallet: Any) -> FastAPI:
    """The hub's app with ``[wallet]`` settings (as :func:`hub.service.serve` sets them)."""
    app = create_app(db, clock=clock, token_ttl=0.0, identify_limits=(0, 0))
    app.state.hub.extra["wallet_config"] = WalletSection(**wallet)
    return app


PHONE_A = "+380671234567"
PHONE_B = "+380672223344"


@dataclass
class Wallets:
    s: Seeded
    a: str
    b: str
    tickets: int
    """A generated ticket series (codes always visible)."""
    hidden: int
    """A coupon series whose code is shown only once used."""
    ticket_a: dict[str, Any]
    ticket_b: dict[str, Any]
    hidden_a: dict[str, Any]


def series(c: httpx.Client, **kw: Any) -> int:
    body = {"name": "Concert", "kind": "ticket", "issue_limit": 100, **kw}
    return int(ok(c.post("/api/v1/series", json=body, headers=ADMIN_H), 201)["id"])


def issue(c: httpx.Client, series_id: int, customer: str) -> dict[str, Any]:
    out = ok(c.post(f"/api/v1/series/{series_id}/codes", json={"customers": [customer]},
                    headers=ADMIN_H), 201)
    return out[0]  # type: ignore[no-any-return]


def wallets(c: httpx.Client, **seed_kw: Any) -> Wallets:
    s = seed(c, **seed_kw)
    a = register(c, s, PHONE_A)["customer"]
    b = register(c, s, PHONE_B)["customer"]
    tickets = series(c)
    hidden = series(c, name="Mystery gift", kind="coupon", code_visibility="on_redeem")
    return Wallets(s, a, b, tickets, hidden, issue(c, tickets, a), issue(c, tickets, b),
                   issue(c, hidden, a))


def link(c: httpx.Client, customer: str, send: bool = False) -> str:
    """The path of a fresh wallet link (``/w/{token}``), issued by an admin."""
    out = ok(c.post(f"/api/v1/customers/{customer}/wallet-link", json={"send": send},
                    headers=ADMIN_H), 201)
    url = str(out["url"])
    return url[url.index("/w/"):]


def messages(db: Database, customer: str, kind: str | None = None) -> list[str]:
    """The texts queued for ``customer`` (of ``kind``), oldest first."""
    with db.read() as s:
        stmt = select(Message.text).where(Message.customer_id == customer).order_by(Message.id)
        if kind is not None:
            stmt = stmt.where(Message.kind == kind)
        return list(s.scalars(stmt))
