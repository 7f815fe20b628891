"""The hub's Ed25519 signing keys: one signs new codes, older ones still verify until retired.

Keys live in the hub's database (``signing_keys``), so every hub replica on a shared PostgreSQL
signs with the same key and a backup of the database is a backup of the keys. Rotation adds a new
key that signs from then on; codes signed by older keys stay valid. Retiring a key makes every
code it signed invalid at once (hub and, after their next replica refresh, gates).
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Setting, SigningKey
from venue import codes

ACTIVE = "active"
RETIRED = "retired"
MAX_KEY_ID = 0xFFFF


class KeyError_(LookupError):
    """No such key, or no key id left."""


def create_key(session: Session, *, now: datetime) -> SigningKey:
    """Add a new active key; it becomes the one that signs (the newest active key signs)."""
    top = session.scalar(select(func.max(SigningKey.id))) or 0
    if top >= MAX_KEY_ID:
        raise KeyError_("no key id left (65535 keys made)")
    private = codes.new_private_key()
    key = SigningKey(
        id=top + 1,
        private_key=private.private_bytes_raw(),
        public_key=codes.public_key_bytes(private),
        status=ACTIVE,
        created_at=now,
        retired_at=None,
    )
    session.add(key)
    session.flush()
    return key


def signing_key(session: Session, *, now: datetime) -> tuple[int, Ed25519PrivateKey]:
    """The key new codes are signed with, made on first use."""
    key = session.scalar(
        select(SigningKey)
        .where(SigningKey.status == ACTIVE)
        .order_by(SigningKey.id.desc())
        .limit(1)
    )
    if key is None:
        key = create_key(session, now=now)
    return key.id, Ed25519PrivateKey.from_private_bytes(key.private_key)


def retire(session: Session, key_id: int, *, now: datetime) -> SigningKey:
    """Retire a key: codes it signed are rejected from now on."""
    key = session.get(SigningKey, key_id)
    if key is None:
        raise KeyError_(f"no key {key_id}")
    if key.status != RETIRED:
        key.status = RETIRED
        key.retired_at = now
    return key


def all_keys(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.id)))


@functools.lru_cache(maxsize=256)
def public_key(raw: bytes) -> Ed25519PublicKey:
    """Parsed public keys, cached: parsing costs more than a lookup and keys never change."""
    return codes.load_public_key(raw)


SALT_KEY = "hash_salt"


def hash_salt(session: Session) -> bytes:
    """The salt of imported-code hashes (sent to gates in the replica), made on first use."""
    row = session.get(Setting, SALT_KEY)
    if row is None:
        row = Setting(key=SALT_KEY, value=secrets.token_hex(16))
        session.add(row)
        session.flush()
    return bytes.fromhex(row.value)
