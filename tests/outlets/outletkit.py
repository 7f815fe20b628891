"""Helpers for the outlet tests: a seeded hub with two outlets, a series and customers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hubkit import ADMIN_H

Client = Any
"""A FastAPI TestClient or an httpx.Client (the same calls)."""


def key() -> str:
    return uuid.uuid4().hex


def ok(r: Any, *codes: int) -> Any:
    assert r.status_code in (codes or (200,)), (r.status_code, r.text)
    return r.json()


def token(c: Client, role: str, device: str) -> dict[str, str]:
    t = ok(c.post("/api/v1/tokens", json={"role": role, "device": device}, headers=ADMIN_H), 201)
    return {"Authorization": f"Bearer {t['token']}"}


def series(c: Client, name: str = "Concert", issue_limit: int = 1000, **rules: Any) -> int:
    sid: int = ok(c.post("/api/v1/series", json={"name": name, "issue_limit": issue_limit},
                         headers=ADMIN_H), 201)["id"]
    if rules:
        ok(c.put(f"/api/v1/series/{sid}/sales-rules", json=rules, headers=ADMIN_H))
    return sid


def outlet(c: Client, oid: str, *assign: tuple[int, int, str]) -> dict[str, str]:
    """Create outlet ``oid`` with (series, quota, price) assignments; its token headers."""
    ok(c.post("/api/v1/outlets", json={"id": oid, "name": f"Agency {oid}"}, headers=ADMIN_H), 201)
    for sid, quota, price in assign:
        ok(c.put(f"/api/v1/outlets/{oid}/series/{sid}", json={"quota": quota, "price": price},
                 headers=ADMIN_H))
    return token(c, "outlet", oid)


def customer(c: Client, phone: str) -> str:
    h = token(c, "register", f"reg{uuid.uuid4().hex[:6]}")
    cid: str = ok(c.post("/api/v1/customers", json={"phone": phone, "consent": True},
                         headers=h), 201, 200)["customer"]
    return cid


@dataclass
class Sale:
    status: int
    body: Any


def sell(c: Client, h: dict[str, str], sid: int, qty: int = 1, k: str | None = None,
         **kw: Any) -> Sale:
    r = c.post("/api/v1/outlet/sales", headers=h,
               json={"series": sid, "qty": qty, "idempotency_key": k or key(), **kw})
    return Sale(r.status_code, r.json())
