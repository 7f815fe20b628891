"""Tokens made by ``venue provision``: the inventory's ``hub-tokens.json`` imported into the hub.

The inventory holds only SHA-256 hashes of device tokens (the clear token goes onto the device's
SD card), which is exactly what the hub stores, so importing needs no secret. With ``prune`` the
file is the whole truth for device tokens: a device revoked in the inventory loses its token here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth import ROLES
from hub.models import ApiToken
from venue.errors import ConfigError
from venue.topics import check_id

DEVICE_ROLES = ("gate", "kiosk", "beacon", "register")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TokenEntry:
    device: str
    role: str
    token_sha256: str


@dataclass(frozen=True)
class ImportResult:
    added: int
    kept: int
    revoked: int


def read_entries(path: str | Path) -> list[TokenEntry]:
    """Parse and check ``hub-tokens.json``.

    Raises:
        ConfigError: one line naming the file, the entry and what is wrong.
    """
    where = str(path)
    try:
        raw: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{where}: not a JSON token list: {exc}") from None
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a JSON list of tokens")
    out: list[TokenEntry] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: entry {i}: expected an object")
        device, role, digest = item.get("device"), item.get("role"), item.get("token_sha256")
        try:
            check_id(str(device), "device")
        except ValueError as exc:
            raise ConfigError(f"{where}: entry {i}: {exc}") from None
        if role not in ROLES or role == "admin":
            raise ConfigError(f"{where}: entry {i}: role {role!r} is not a device role")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ConfigError(f"{where}: entry {i}: token_sha256 must be 64 hex digits")
        out.append(TokenEntry(str(device), str(role), digest))
    return out


def import_tokens(
    session: Session, entries: list[TokenEntry], *, now: datetime, prune: bool = False
) -> ImportResult:
    """Add the tokens not yet known; with ``prune``, revoke device tokens the file no longer has."""
    wanted = {e.token_sha256: e for e in entries}
    rows = {r.token_hash: r for r in session.scalars(select(ApiToken))}
    added = kept = revoked = 0
    for digest, entry in wanted.items():
        row = rows.get(digest)
        if row is None:
            session.add(ApiToken(token_hash=digest, role=entry.role, device=entry.device,
                                 allow_serial_entry=False, created_at=now, revoked_at=None))
            added += 1
        else:
            kept += 1
    if prune:
        for digest, row in rows.items():
            if digest not in wanted and row.role in DEVICE_ROLES and row.revoked_at is None:
                row.revoked_at = now
                revoked += 1
    session.flush()
    return ImportResult(added, kept, revoked)


def revoke_device(session: Session, device: str, *, now: datetime) -> int:
    """Revoke every live token of ``device``; returns how many."""
    n = 0
    for row in session.scalars(select(ApiToken).where(ApiToken.device == device,
                                                      ApiToken.revoked_at.is_(None))):
        row.revoked_at = now
        n += 1
    session.flush()
    return n
