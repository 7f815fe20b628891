"""Customers by phone number or card, without ever storing a readable number.

The hub keeps one secret: the HMAC of the E.164 number under it is the lookup key, and AES-GCM
under a key derived from it holds the number for the notification adapters (the only ones who
need it back). A stolen database without the secret gives neither. The running hub keeps it in a
secrets file (:mod:`hub.loyalty.secret_file`, registered here with :func:`use_master`); a
database nobody registered a file for (tests, tools) keeps it in ``hub_settings`` as before, made
on first use, unless a ``phone_key_moved`` row says it lives in a file: then it is an error, never
a new key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.loyalty.errors import UnknownCustomer
from hub.loyalty.models import Card, Customer
from hub.models import Setting
from venue import phone

PHONE_KEY = "phone_key"
PHONE_KEY_MOVED = "phone_key_moved"
_masters: dict[str, bytes] = {}


class SecretMoved(RuntimeError):
    """The phone key lives in a secrets file that this process was not given."""


def _bind_key(bind: Any) -> str:
    return str(bind.url.render_as_string(hide_password=True))


def use_master(db: Any, master: bytes) -> None:
    """Use ``master`` (from the secrets file) as the phone secret of database ``db``."""
    _masters[_bind_key(getattr(db, "engine", db))] = master


@dataclass(frozen=True)
class PhoneSecret:
    """The hub's phone secret, split into a hashing key and an encryption key."""

    hash_key: bytes
    enc_key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> PhoneSecret:
        return cls(
            hmac.new(master, b"venue phone hash", hashlib.sha256).digest(),
            hmac.new(master, b"venue phone encryption", hashlib.sha256).digest(),
        )

    def lookup(self, e164: str) -> str:
        return phone.phone_hash(e164, self.hash_key)

    def encrypt(self, e164: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self.enc_key).encrypt(nonce, e164.encode(), b"phone")

    def decrypt(self, blob: bytes) -> str:
        return AESGCM(self.enc_key).decrypt(blob[:12], blob[12:], b"phone").decode()


def phone_secret(session: Session) -> PhoneSecret:
    """The hub's phone secret: from its secrets file when one was registered, else from
    ``hub_settings``, made on first use (a concurrent first use keeps the first one).

    Raises:
        SecretMoved: the key was moved to a secrets file this process does not know.
    """
    master = _masters.get(_bind_key(session.get_bind()))
    if master is not None:
        return PhoneSecret.from_master(master)
    row = session.get(Setting, PHONE_KEY)
    if row is None:
        moved = session.get(Setting, PHONE_KEY_MOVED)
        if moved is not None:
            raise SecretMoved(f"the phone key is in a secrets file ({moved.value}); start "
                              "with that [hub] secrets_file")
        try:
            with session.begin_nested():
                session.add(Setting(key=PHONE_KEY, value=secrets.token_hex(32)))
        except IntegrityError:
            pass
        row = session.get(Setting, PHONE_KEY)
        assert row is not None
    return PhoneSecret.from_master(bytes.fromhex(row.value))


def new_customer_id() -> str:
    return "c_" + secrets.token_hex(8)


def by_phone(session: Session, secret: PhoneSecret, e164: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.phone_hash == secret.lookup(e164)))


def card_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def by_card(session: Session, token: str) -> Customer | None:
    """The holder of a card that is not revoked."""
    card = session.scalar(select(Card).where(Card.token_hash == card_hash(token)))
    if card is None or card.revoked_at is not None:
        return None
    return session.get(Customer, card.customer_id)


def register(
    session: Session, secret: PhoneSecret, e164: str, *, device: str, now: datetime
) -> tuple[Customer, bool]:
    """The customer of ``e164``, created (with the consent given now) when new: ``(row, new)``."""
    found = by_phone(session, secret, e164)
    if found is not None:
        return found, False
    row = Customer(id=new_customer_id(), phone_hash=secret.lookup(e164),
                   phone_enc=secret.encrypt(e164), masked=phone.mask(e164), consent_at=now,
                   consent_device=device, created_at=now)
    session.add(row)
    session.flush()
    return row, True


def issue_card(session: Session, customer_id: str, *, now: datetime) -> str:
    """A new card token for a customer (shown once; only its hash is kept)."""
    if session.get(Customer, customer_id) is None:
        raise UnknownCustomer(customer_id)
    token = "card_" + secrets.token_urlsafe(18)
    session.add(Card(token_hash=card_hash(token), customer_id=customer_id, created_at=now))
    return token


def revoke_card(session: Session, token: str, *, now: datetime) -> bool:
    """Revoke a card; ``False`` when there was no such (active) card."""
    card = session.scalar(select(Card).where(Card.token_hash == card_hash(token)))
    if card is None or card.revoked_at is not None:
        return False
    card.revoked_at = now
    return True
