"""API tokens: random secrets stored only as SHA-256 hashes, each with a role and a device id.

A token is 256 random bits, so a plain SHA-256 is enough to make a stolen database useless for
calling the API (no password stretching needed: nothing to brute-force). Lookups are cached for
a few seconds because every gate scan presents its token.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import Database
from hub.models import ApiToken
from venue.clock import Clock
from venue.topics import check_id

ROLES = ("admin", "operator", "validator", "register", "kiosk", "gate", "beacon", "outlet")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the role and device of the token presented."""

    role: str
    device: str
    allow_serial_entry: bool = False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: Session, *, role: str, device: str, now: datetime, allow_serial_entry: bool = False,
    token: str | None = None,
) -> str:
    """Store a new token and return its clear text (shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_id(device, "device")
    token = token or secrets.token_urlsafe(32)
    session.add(
        ApiToken(token_hash=hash_token(token), role=role, device=device,
                 allow_serial_entry=allow_serial_entry, created_at=now, revoked_at=None)
    )
    session.flush()
    return token


def ensure_token(session: Session, token: str, *, role: str, device: str, now: datetime) -> None:
    """Make sure ``token`` exists (the operator's ``--admin-token``), adding it if not."""
    if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))) is None:
        create_token(session, role=role, device=device, now=now, token=token)


class TokenCache:
    """Token hash → principal, kept ``ttl`` seconds (a revoked token stops working within it)."""

    def __init__(self, db: Database, *, clock: Clock, ttl: float = 5.0) -> None:
        self._db = db
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Principal | None]] = {}

    def lookup(self, token: str) -> Principal | None:
        key = hash_token(token)
        now = self._clock.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        with self._db.read() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == key))
            principal = (
                None
                if row is None or row.revoked_at is not None
                else Principal(row.role, row.device, row.allow_serial_entry)
            )
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (now, principal)
        return principal
