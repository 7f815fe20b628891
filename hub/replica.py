"""The gate replica (docs/contracts.md): what a gate needs to decide while the hub is away.

Incremental by a cursor that is the hub's time of the previous answer. Changes are found by the
rows' ``changed_at``, read back with an overlap (:data:`OVERLAP`) so a transaction that committed
just after the previous answer was built is not missed; every list is an upsert by key, so
sending a row twice is harmless.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub import keys
from hub.models import Code, CodeEvent, Series, SigningKey
from hub.series import series_dict
from venue.messages import rfc3339

OVERLAP = timedelta(seconds=5)
MAX_AGE = timedelta(days=7)
"""Cursors older than this get a full replica (cheaper than a long list of changes)."""
_CURSOR_PREFIX = "c1."


def encode_cursor(when: datetime) -> str:
    return f"{_CURSOR_PREFIX}{int(when.timestamp() * 1_000_000)}"


def decode_cursor(text: str | None) -> datetime | None:
    """The time in a cursor, ``None`` when it is absent or not one of ours (→ full replica)."""
    if not text or not text.startswith(_CURSOR_PREFIX) or len(text) > 40:
        return None
    digits = text[len(_CURSOR_PREFIX) :]
    if not digits.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(digits) / 1_000_000, UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _t(when: datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def build_replica(session: Session, *, since: str | None, now: datetime) -> dict[str, Any]:
    """The replica answer: full when ``since`` is absent, unknown, too old or in the future."""
    cut = decode_cursor(since)
    full = cut is None or cut < now - MAX_AGE or cut > now + OVERLAP
    after = None if full or cut is None else cut - OVERLAP
    out: dict[str, Any] = {
        "cursor": encode_cursor(now),
        "full": full,
        "hub_time": rfc3339(now),
        "hash_salt": keys.hash_salt(session).hex(),
        "keys": [
            {"key_id": k.id, "public_key": base64.b64encode(k.public_key).decode(),
             "status": k.status}
            for k in session.scalars(select(SigningKey).order_by(SigningKey.id))
        ],
        "series": [
            _series(s) for s in session.scalars(select(Series).order_by(Series.id))
        ],
    }
    cols = (Code.ref, Code.series_id, Code.serial, Code.status, Code.code_hash, Code.entries_used,
            Code.inside, Code.first_used_at, Code.first_gate, Code.last_used_at)
    base = select(*cols).where(Code.status != "imported")
    if after is None:
        status_rows = session.execute(base.where(Code.status != "issued")).all()
        hashed = session.execute(base.where(Code.code_hash.is_not(None))).all()
        used = session.execute(
            base.where(or_(Code.entries_used > 0, Code.inside.is_(True)))
        ).all()
    else:
        changed = session.execute(base.where(Code.changed_at >= after)).all()
        reissued = set(
            session.scalars(
                select(Code.ref).join(CodeEvent, CodeEvent.code_id == Code.id).where(
                    and_(CodeEvent.at >= after, CodeEvent.status == "issued")
                )
            )
        )
        status_rows = [r for r in changed if r.status != "issued" or r.ref in reissued]
        hashed = [r for r in changed if r.code_hash is not None]
        used = [r for r in changed if r.last_used_at is not None]
    out["codes"] = [{"ref": r.ref, "status": r.status} for r in status_rows]
    out["imported"] = [{"series": r.series_id, "hash": r.code_hash} for r in hashed]
    out["shared"] = [
        {"series": s.id, "code": s.shared_code}
        for s in session.scalars(
            select(Series).where(Series.shared_code.is_not(None), Series.active.is_(True))
        )
    ]
    out["used"] = [
        {"ref": r.ref, "entries": r.entries_used, "inside": r.inside,
         "first_used_at": _t(r.first_used_at), "first_gate": r.first_gate}
        for r in used
    ]
    return out


def _series(s: Series) -> dict[str, Any]:
    d = series_dict(s)
    d.pop("shared_code", None)
    d.pop("code_visibility", None)
    d.pop("imported_count", None)
    return d
