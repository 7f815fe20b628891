"""Operators: devices, commands (recorded), the live event stream, the dashboard and the steward
page.

The two pages are static files (hub/ops/web) that call this API with the token the person typed,
kept in the tab's ``sessionStorage`` and sent as a bearer header, never a cookie: no cookie means
no cross-site request can ride on an operator's login. The event stream is server-sent events
read with ``fetch`` for the same reason (``EventSource`` cannot send a header).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from pydantic import Field, field_validator

from hub.api.deps import HubContext, context, require
from hub.api.schemas import ID_PATTERN, NONCE_PATTERN, Strict
from hub.auth import ROLES, Principal
from hub.ops import commands as ops_commands
from hub.ops import overview as ops_overview
from hub.ops.commands import COMMANDS
from hub.ops.live import OpsLive

WEB = pathlib.Path(__file__).resolve().parent.parent / "ops" / "web"
_STATIC = {"ops.css": "text/css", "dashboard.js": "text/javascript",
           "steward.js": "text/javascript", "common.js": "text/javascript"}
_PAGE_HEADERS = {
    # Everything is served by the hub itself: no CDN, no inline script, no framing.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' "
                               "blob:; frame-ancestors 'none'; base-uri 'none'; form-action "
                               "'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_ARGS = 4096
"""Largest command ``args`` (as JSON): commands carry switches, not payloads."""
STREAM_BACKLOG = 20
"""Recent events a fresh stream starts with, so the page is not empty until the next one."""
KEEPALIVE_S = 15.0
STREAM_MAX_S = 600.0
"""A stream ends after this and the page reconnects (with ``Last-Event-ID``): nothing hangs on
to a connection forever, and a revoked token stops streaming within it."""

OPERATORS = require("admin", "operator")
ANYONE = require(*ROLES)

router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["operators"])


class CommandIn(Strict):
    name: Annotated[str, Field(json_schema_extra={"enum": list(COMMANDS)})]
    args: dict[str, Any] = {}
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    idempotency_key: Annotated[str, Field(pattern=NONCE_PATTERN)] | None = None
    """A retry with the same key returns the first command's record instead of sending again."""

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in COMMANDS:
            raise ValueError(f"must be one of {', '.join(COMMANDS)}")
        return value

    @field_validator("args")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False, allow_nan=False)) > MAX_ARGS:
            raise ValueError(f"must be at most {MAX_ARGS} bytes of JSON")
        return value


SiteQuery = Annotated[str | None, Query(pattern=ID_PATTERN)]


def _live(ctx: HubContext) -> OpsLive | None:
    live = ctx.extra.get("ops")
    return live if isinstance(live, OpsLive) else None


@api.post("/devices/{device}/commands")
def post_command(
    device: Annotated[str, Path(pattern=ID_PATTERN)],
    body: CommandIn,
    site: SiteQuery = None,
    ctx: HubContext = Depends(context),
    who: Principal = Depends(OPERATORS),
) -> dict[str, Any]:
    """Send a command to a device over MQTT and wait for its answer; recorded with who sent it.

    ``result`` is ``ok``, ``error`` (the device said so; ``message`` says why) or ``timeout``
    (``reason`` ``offline``: its status says offline, so it was not sent; ``no_answer``: sent,
    no answer in ``timeout_s``). 404: no such device; 409 ``ambiguous``: pass ``site``; 503: the
    hub runs without MQTT or is not connected to the broker.
    """
    live = _live(ctx)
    if live is None or not live.ready:
        # Answer 404/409 for a bad device before saying the broker is missing.
        ops_commands.resolve(device, site, ops_commands.known_targets(
            ctx.db, [] if live is None else live.targets()))
        why = ("this hub runs without MQTT (hub.mqtt = false): it cannot reach devices"
               if live is None else "the hub is not connected to the broker right now")
        raise HTTPException(503, why)
    return ops_commands.run_command(
        ctx.db, live, who=who, device=device, site=site, name=body.name, args=body.args,
        timeout_s=body.timeout_s, idempotency_key=body.idempotency_key, clock=ctx.clock)


@api.get("/commands")
def get_commands(
    device: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ctx: HubContext = Depends(context),
    _: Principal = Depends(OPERATORS),
) -> dict[str, Any]:
    """Recorded commands, newest first (who, device, name, args, sent_at, result, answered_at)."""
    live = _live(ctx)
    if live is not None:
        ops_commands.record_late(ctx.db, live.waiter, ctx.clock)
    return {"commands": ops_commands.list_commands(ctx.db, device, limit)}


@api.get("/ops/whoami")
async def whoami(who: Principal = Depends(ANYONE)) -> dict[str, Any]:
    """The role and device of the presented token (the pages' login check)."""
    return {"role": who.role, "device": who.device}


@api.get("/ops/overview")
def get_overview(ctx: HubContext = Depends(context),
                 _: Principal = Depends(OPERATORS)) -> dict[str, Any]:
    """Device rows, alerts, gate throughput and occupancy per minute, the register queue."""
    live = _live(ctx)
    with ctx.db.read() as s:
        out = ops_overview.overview(s, [] if live is None else live.snapshot(), ctx.clock.now())
    out["live"] = live is not None and live.ready
    return out


def _sse(item: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in item.items() if k != "kind"}, separators=(",", ":"),
                      default=str)
    return f"id: {item['seq']}\nevent: {item['kind']}\ndata: {body}\n\n"


@api.get("/events/stream", include_in_schema=False)
async def events_stream(
    request: Request,
    ctx: HubContext = Depends(context),
    _: Principal = Depends(OPERATORS),
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Live device events and status changes as server-sent events (``event: event|status``).

    Kept out of the OpenAPI schema: an endless stream is not a request/response a client
    generator or a fuzzer can use.
    """
    live = _live(ctx)
    if live is None:
        raise HTTPException(503, "this hub runs without MQTT (hub.mqtt = false): no live events")
    feed = live.feed
    cursor = max(0, feed.last - STREAM_BACKLOG)
    if last_event_id and last_event_id.isdigit():
        cursor = min(int(last_event_id), feed.last)

    async def stream() -> AsyncIterator[str]:
        nonlocal cursor
        loop = asyncio.get_running_loop()
        started = idle_since = loop.time()
        yield "retry: 2000\n\n"
        while loop.time() - started < STREAM_MAX_S:
            items = feed.since(cursor)
            for item in items:
                cursor = item["seq"]
                yield _sse(item)
            now = loop.time()
            if items:
                idle_since = now
            elif now - idle_since > KEEPALIVE_S:
                idle_since = now
                yield ": keepalive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((WEB / name).read_text(encoding="utf-8"), headers=_PAGE_HEADERS)


@router.get("/dashboard", include_in_schema=False)
async def dashboard() -> HTMLResponse:
    """The operators' dashboard (log in with an operator or admin token)."""
    return await run_in_threadpool(_page, "dashboard.html")


@router.get("/steward", include_in_schema=False)
async def steward() -> HTMLResponse:
    """The steward's phone page (log in with a validator token)."""
    return await run_in_threadpool(_page, "steward.html")


@router.get("/ops/static/{name}", include_in_schema=False)
async def static(name: str) -> FileResponse:
    """The pages' scripts and style sheet (a fixed list: nothing else on disk is reachable)."""
    media = _STATIC.get(name)
    if media is None:
        raise HTTPException(404, f"no file {name}")
    return FileResponse(WEB / name, media_type=media, headers=_PAGE_HEADERS)


router.include_router(api)
