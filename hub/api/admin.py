"""Operators' endpoints: tokens, signing keys, devices, offline conflicts."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from hub import keys
from hub.api.deps import HubContext, context, require
from hub.api.schemas import TokenIn
from hub.auth import Principal, create_token
from hub.models import Conflict, Device, SigningKey
from venue.messages import rfc3339

router = APIRouter(prefix="/api/v1", tags=["admin"])
ADMIN = require("admin")


@router.post("/tokens", status_code=201)
def post_token(body: TokenIn, ctx: HubContext = Depends(context),
               _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Make a token for a device; the clear token is shown only in this answer."""
    with ctx.db.write() as s:
        token = create_token(s, role=body.role, device=body.device, now=ctx.clock.now(),
                             allow_serial_entry=body.allow_serial_entry)
    return {"token": token, "role": body.role, "device": body.device,
            "allow_serial_entry": body.allow_serial_entry}


def _key(k: SigningKey) -> dict[str, Any]:
    return {"key_id": k.id, "public_key": base64.b64encode(k.public_key).decode(),
            "status": k.status, "created_at": rfc3339(k.created_at),
            "retired_at": None if k.retired_at is None else rfc3339(k.retired_at)}


@router.get("/keys")
def get_keys(ctx: HubContext = Depends(context),
             _: Principal = Depends(ADMIN)) -> list[dict[str, Any]]:
    with ctx.db.read() as s:
        return [_key(k) for k in keys.all_keys(s)]


@router.post("/keys/rotate", status_code=201)
def rotate(ctx: HubContext = Depends(context), _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """A new key signs from now on; codes signed by older keys stay valid."""
    with ctx.db.write() as s:
        return _key(keys.create_key(s, now=ctx.clock.now()))


@router.post("/keys/{key_id}/retire")
def retire(key_id: Annotated[int, Path(ge=1, le=keys.MAX_KEY_ID)],
           ctx: HubContext = Depends(context), _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Retire a key: every code it signed is rejected from now on."""
    with ctx.db.write() as s:
        out = _key(keys.retire(s, key_id, now=ctx.clock.now()))
    if ctx.publish is not None:
        ctx.publish("hub.replica", {"reason": "key_retired", "key_id": key_id})
    return out


@router.get("/devices")
def devices(ctx: HubContext = Depends(context),
            _: Principal = Depends(ADMIN)) -> list[dict[str, Any]]:
    """Every device the hub has heard of, with its last status and when it was last seen."""
    with ctx.db.read() as s:
        return [
            {"site": d.site, "role": d.role, "device": d.device, "state": d.state,
             "version": d.version, "started_at": d.started_at,
             "status_at": None if d.status_at is None else rfc3339(d.status_at),
             "last_seen": None if d.last_seen is None else rfc3339(d.last_seen)}
            for d in s.scalars(select(Device).order_by(Device.key))
        ]


@router.get("/conflicts")
def conflicts(ctx: HubContext = Depends(context),
              _: Principal = Depends(require("admin", "validator"))) -> list[dict[str, Any]]:
    """Tickets admitted offline although already used elsewhere."""
    with ctx.db.read() as s:
        return [
            {"ref": c.ref, "nonce": c.nonce, "gate": c.gate, "first_gate": c.first_gate,
             "gates": c.gates, "scanned_at": rfc3339(c.scanned_at),
             "detected_at": rfc3339(c.detected_at)}
            for c in s.scalars(select(Conflict).order_by(Conflict.id).limit(1000))
        ]
