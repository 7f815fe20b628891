"""Wallet links and one-time codes.

A link is ``/w/{token}``, the token ``w1.{customer}.{issued}.{expires}.{mac}``: an HMAC-SHA256
(truncated to 128 bits) under a key kept in ``hub_settings`` and used for nothing else. The token
is the only key to a wallet: changing any part of it (the customer id included) breaks the MAC,
and nothing in a wallet URL after the token names a customer. Links are not stored; a
customer's ``links_since`` (wallet_profiles) refuses every link issued before it.

A one-time code is six digits, sent through the notification queue, kept only as an HMAC,
valid for ``otp_ttl_s``, and good for :data:`MAX_ATTEMPTS` guesses. Asking for a code answers the
same whether the number is a customer or not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.config import WalletSection
from hub.loyalty.identity import PhoneSecret, by_phone
from hub.loyalty.models import Customer
from hub.models import Setting
from hub.wallet import notices
from hub.wallet.models import WalletOtp, WalletProfile
from venue.messages import rfc3339

LINK_KEY = "wallet_link_key"
MAX_ATTEMPTS = 5
"""Guesses per one-time code; then it is dead and a new one must be asked for."""
MAX_CODES_PER_TTL = 3
"""One-time codes per number within ``otp_ttl_s`` (more asks are answered but send nothing)."""
_PREFIX = "w1"


class LinkReason(StrEnum):
    OK = "ok"
    TAMPERED = "tampered"
    """Not a token this hub made (any part changed, or garbage)."""
    EXPIRED = "expired"
    REVOKED = "revoked"
    """Issued before the customer's ``links_since``, or the customer no longer exists."""


@dataclass(frozen=True, slots=True)
class LinkCheck:
    reason: LinkReason
    customer: str | None = None
    issued_at: int = 0


@dataclass(frozen=True, slots=True)
class Link:
    token: str
    url: str
    expires_at: datetime

    @property
    def expires_at_text(self) -> str:
        return rfc3339(self.expires_at)


def wallet_keys(session: Session) -> tuple[bytes, bytes]:
    """The link key and the one-time-code key, derived from one secret made on first use."""
    row = session.get(Setting, LINK_KEY)
    if row is None:
        try:
            with session.begin_nested():
                session.add(Setting(key=LINK_KEY, value=secrets.token_hex(32)))
        except IntegrityError:
            pass
        row = session.get(Setting, LINK_KEY)
        assert row is not None
    master = bytes.fromhex(row.value)
    return (hmac.new(master, b"venue wallet link", hashlib.sha256).digest(),
            hmac.new(master, b"venue wallet otp", hashlib.sha256).digest())


def _mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_token(key: bytes, customer: str, *, issued_at: int, expires_at: int) -> str:
    body = f"{_PREFIX}.{customer}.{issued_at}.{expires_at}"
    return f"{body}.{_mac(key, body)}"


def check_token(key: bytes, token: str, *, now: datetime) -> LinkCheck:
    """Pure: is ``token`` one of ours, and unexpired at ``now``?"""
    if len(token) > 200 or not token.isascii():
        return LinkCheck(LinkReason.TAMPERED)
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != _PREFIX:
        return LinkCheck(LinkReason.TAMPERED)
    body, mac = token.rpartition(".")[0], parts[4]
    if not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        return LinkCheck(LinkReason.TAMPERED)
    _, customer, issued, expires = parts[:4]
    if not (issued.isdigit() and expires.isdigit()):
        return LinkCheck(LinkReason.TAMPERED)
    if int(expires) <= now.timestamp():
        return LinkCheck(LinkReason.EXPIRED, customer, int(issued))
    return LinkCheck(LinkReason.OK, customer, int(issued))


def resolve(session: Session, token: str, *, now: datetime) -> LinkCheck:
    """:func:`check_token`, then the customer must exist and the link not be revoked."""
    link_key, _ = wallet_keys(session)
    found = check_token(link_key, token, now=now)
    if found.reason != LinkReason.OK or found.customer is None:
        return found
    if session.get(Customer, found.customer) is None:
        return LinkCheck(LinkReason.REVOKED)
    profile = session.get(WalletProfile, found.customer)
    if profile is not None and profile.links_since is not None \
            and found.issued_at < int(profile.links_since.timestamp()):
        return LinkCheck(LinkReason.REVOKED)
    return found


def issue_link(session: Session, customer: str, cfg: WalletSection, *, now: datetime) -> Link:
    link_key, _ = wallet_keys(session)
    issued = int(now.timestamp())
    profile = session.get(WalletProfile, customer)
    if profile is not None and profile.links_since is not None:
        # links revoked this very second: a new one must still pass the check
        issued = max(issued, int(profile.links_since.timestamp()))
    expires = int(now.timestamp()) + cfg.link_ttl_s
    token = make_token(link_key, customer, issued_at=issued, expires_at=expires)
    return Link(token, f"{cfg.base_url.rstrip('/')}/w/{token}",
                datetime.fromtimestamp(expires, UTC))


def send_link(session: Session, customer: str, link: Link, *, now: datetime) -> int | None:
    """Send the link to the customer (email or SMS, by the queue's choice of channel)."""
    digest = hashlib.sha256(link.token.encode()).hexdigest()[:24]
    return notices.send(session, customer=customer, kind="wallet_link",
                        subject="Your wallet", text=f"Your wallet: {link.url}",
                        key=f"wallet-link:{digest}", now=now)


def revoke_links(session: Session, customer: str, *, now: datetime) -> datetime:
    """Every link issued so far stops working (the next one issued works); a lost phone."""
    from hub.wallet.profiles import profile_of

    since = datetime.fromtimestamp(int(now.timestamp()) + 1, UTC)
    profile_of(session, customer, now=now).links_since = since
    return since


# --- one-time codes ---------------------------------------------------------------------------


def _code_hash(otp_key: bytes, phone_hash: str, code: str) -> str:
    return hmac.new(otp_key, f"{phone_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def request_code(session: Session, secret: PhoneSecret, e164: str, cfg: WalletSection, *,
                 now: datetime) -> None:
    """Make and send a one-time code for ``e164`` (nothing is sent to a number that is no
    customer, or beyond :data:`MAX_CODES_PER_TTL` codes per ``otp_ttl_s``)."""
    _, otp_key = wallet_keys(session)
    phone_hash = secret.lookup(e164)
    recent = session.scalar(select(func.count()).select_from(WalletOtp).where(
        WalletOtp.phone_hash == phone_hash,
        WalletOtp.created_at > now - timedelta(seconds=cfg.otp_ttl_s))) or 0
    if recent >= MAX_CODES_PER_TTL:
        return
    customer = by_phone(session, secret, e164)
    code = f"{secrets.randbelow(10**6):06d}"
    row = WalletOtp(phone_hash=phone_hash, code_hash=_code_hash(otp_key, phone_hash, code),
                    customer_id=None if customer is None else customer.id, attempts=0,
                    created_at=now, expires_at=now + timedelta(seconds=cfg.otp_ttl_s))
    session.add(row)
    session.flush()
    if customer is not None:
        minutes = max(1, cfg.otp_ttl_s // 60)
        notices.send(session, customer=customer.id, kind="wallet_code", subject="Your code",
                     text=f"Your wallet code: {code} (valid {minutes} min)",
                     key=f"wallet-otp:{row.id}", now=now)


def verify_code(session: Session, secret: PhoneSecret, e164: str, code: str, *,
                now: datetime) -> str | None:
    """The customer whose latest live code for ``e164`` is ``code`` (it is used up), else
    ``None``; every guess counts against the code's attempts, right or wrong."""
    _, otp_key = wallet_keys(session)
    phone_hash = secret.lookup(e164)
    row = session.scalar(
        select(WalletOtp)
        .where(WalletOtp.phone_hash == phone_hash, WalletOtp.used_at.is_(None),
               WalletOtp.expires_at > now)
        .order_by(WalletOtp.id.desc()).limit(1).with_for_update())
    if row is None or row.attempts >= MAX_ATTEMPTS:
        return None
    row.attempts += 1
    if not hmac.compare_digest(row.code_hash, _code_hash(otp_key, phone_hash, code)):
        return None
    if row.customer_id is None:
        return None
    row.used_at = now
    return row.customer_id
