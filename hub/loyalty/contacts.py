"""A customer's email on file, kept like the phone number: encrypted, and masked for screens.

The email is encrypted with AES-GCM under the phone secret's encryption key (another associated
data than the phone's, so one ciphertext cannot pass for the other). Only the notification
sender decrypts it, at send time.
"""

from __future__ import annotations

import os
import re
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from hub.loyalty.earn_models import Contact
from hub.loyalty.identity import PhoneSecret
from hub.loyalty.service import get_customer

_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$")
_AAD = b"email"


class BadEmail(ValueError):
    """Not an email address one can send to."""


def normalize_email(raw: str) -> str:
    """The address trimmed, with its domain in lower case.

    Raises:
        BadEmail: not ``local@domain`` (no spaces, no display name, at most 254 characters).
    """
    text = raw.strip()
    if len(text) > 254 or not _EMAIL.match(text):
        raise BadEmail("expected an email address like name@example.com")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def mask_email(email: str) -> str:
    """``a***@example.com``: enough for a customer to recognise, not to write to."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def encrypt_email(secret: PhoneSecret, email: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(secret.enc_key).encrypt(nonce, email.encode(), _AAD)


def decrypt_email(secret: PhoneSecret, blob: bytes) -> str:
    return AESGCM(secret.enc_key).decrypt(blob[:12], blob[12:], _AAD).decode()


def set_email(session: Session, secret: PhoneSecret, customer_id: str, email: str | None, *,
              now: datetime) -> Contact:
    """Put (or with ``None`` remove) the customer's email on file.

    Raises:
        UnknownCustomer: no such customer.
        BadEmail: not an address.
    """
    get_customer(session, customer_id)
    row = session.get(Contact, customer_id)
    if row is None:
        row = Contact(customer_id=customer_id, changed_at=now)
        session.add(row)
    if email is None:
        row.email_enc, row.email_masked = None, None
    else:
        clean = normalize_email(email)
        row.email_enc, row.email_masked = encrypt_email(secret, clean), mask_email(clean)
    row.changed_at = now
    session.flush()
    return row


def email_masked(session: Session, customer_id: str) -> str | None:
    row = session.get(Contact, customer_id)
    return None if row is None else row.email_masked


def email_of(session: Session, secret: PhoneSecret, customer_id: str) -> str | None:
    """The clear address, for the sender only (never log it)."""
    row = session.get(Contact, customer_id)
    if row is None or row.email_enc is None:
        return None
    return decrypt_email(secret, row.email_enc)
