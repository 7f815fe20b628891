"""What every router needs: the hub's services (on ``app.state.hub``) and who is calling.

``require("gate", "admin")`` is the per-endpoint role check: no or unknown token → 401 with a
``WWW-Authenticate: Bearer`` header; a known token of another role → 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.auth import Principal, TokenCache
from hub.db import Database
from venue.clock import Clock

_bearer = HTTPBearer(auto_error=False, description="A token from `venue hub token create`.")


@dataclass
class HubContext:
    """The hub's services, shared by all requests."""

    db: Database
    clock: Clock
    tokens: TokenCache
    annul_window: timedelta = timedelta(seconds=60)
    publish: Callable[[str, dict[str, Any]], object] | None = None
    """Publishes an event from the hub (``hub.replica`` hints); ``None`` without MQTT."""
    extra: dict[str, Any] = field(default_factory=dict)


async def context(request: Request) -> HubContext:
    ctx: HubContext = request.app.state.hub
    return ctx


SCANNER_ROLES = ("gate", "validator", "admin")


def authenticate(ctx: HubContext, authorization: str | None, allowed: Iterable[str]) -> Principal:
    """The caller of a request with this ``Authorization`` header, if its role is allowed.

    Raises:
        HTTPException: 401 (with ``WWW-Authenticate: Bearer``) for no or an unknown token, 403
            for a role not in ``allowed``.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        raise HTTPException(401, "a bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = ctx.tokens.lookup(token.strip())
    if principal is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    if principal.role not in allowed:
        names = ", ".join(sorted(allowed))
        raise HTTPException(403, f"role {principal.role} may not do this (allowed: {names})")
    return principal


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through and returns the caller."""
    allowed = frozenset(roles)

    # ``async``: FastAPI runs a sync dependency in its thread pool, a hop per dependency per
    # request; these only read memory (the token cache goes to the database every few seconds).
    async def check(
        request: Request,
        creds: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        header = None if creds is None else f"Bearer {creds.credentials}"
        return authenticate(request.app.state.hub, header, allowed)

    return check
