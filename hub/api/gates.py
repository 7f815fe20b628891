"""What gates and validators call: redemptions, annulments and the offline replica."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from hub import replica
from hub.api.deps import SCANNER_ROLES, HubContext, authenticate, context, require
from hub.api.schemas import ID_PATTERN, NONCE_PATTERN, AnnulIn, RedemptionIn, RedemptionOut
from hub.auth import Principal
from hub.redemption import RedemptionRequest, annul, redeem_once

router = APIRouter(prefix="/api/v1", tags=["gates"])
SCANNERS = require(*SCANNER_ROLES)
GateId = Annotated[str, Path(pattern=ID_PATTERN)]
NonceParam = Annotated[str, Path(pattern=NONCE_PATTERN)]


@router.post(
    "/redemptions",
    response_model=None,
    responses={200: {"model": RedemptionOut, "description": "The decision"},
               401: {"description": "No or unknown token"},
               403: {"description": "Wrong role, or another gate's id"},
               422: {"description": "Malformed body; `detail[].loc` names the field"}},
    openapi_extra={
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": RedemptionIn.model_json_schema()}}},
        "security": [{"HTTPBearer": []}],
    },
)
async def post_redemption(request: Request) -> Response:
    """Redeem (or only ``check``) a code; a repeated nonce returns the first answer.

    This is every gate's hot path, so it does by hand what FastAPI's dependencies and response
    model would do (the same token check, the same pydantic model, the same 422 shape) at a
    fraction of their cost; the redemption itself runs in the thread pool.
    """
    ctx: HubContext = request.app.state.hub
    who = authenticate(ctx, request.headers.get("authorization"), SCANNER_ROLES)
    try:
        body = RedemptionIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    if who.role == "gate" and body.gate != who.device:
        raise HTTPException(403, f"this token belongs to gate {who.device}, not {body.gate}")
    req = RedemptionRequest(
        code=body.code,
        gate=body.gate,
        direction=body.direction,
        nonce=body.nonce,
        scanned_at=body.scanned_at,
        mode=body.mode,
        device=who.device,
        allow_serial=who.role in ("admin", "validator") or who.allow_serial_entry,
    )
    answer = await run_in_threadpool(redeem_once, ctx.db, req, clock=ctx.clock)
    return Response(json.dumps(answer.to_dict(), separators=(",", ":")),
                    media_type="application/json")


@router.post("/redemptions/{nonce}/annul")
def post_annul(nonce: NonceParam, body: AnnulIn | None = None,
               ctx: HubContext = Depends(context),
               who: Principal = Depends(SCANNERS)) -> dict[str, Any]:
    """Undo an admission whose holder did not pass, within the annul window."""
    with ctx.db.write() as s:
        annul(s, nonce, clock=ctx.clock, window=ctx.annul_window,
              gate=who.device if who.role == "gate" else None)
    return {"annulled": True}


@router.get("/gates/{gate}/replica")
def get_replica(
    gate: GateId,
    since: Annotated[str | None, Query(max_length=40)] = None,
    ctx: HubContext = Depends(context),
    who: Principal = Depends(require("gate", "admin")),
) -> dict[str, Any]:
    """What a gate needs offline: keys, series, statuses, imported hashes, shared codes, uses."""
    if who.role == "gate" and gate != who.device:
        raise HTTPException(403, f"this token belongs to gate {who.device}, not {gate}")
    with ctx.db.read() as s:
        return replica.build_replica(s, since=since, now=ctx.clock.now())
