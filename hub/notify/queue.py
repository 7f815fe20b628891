"""Queueing a notification to a customer, in the caller's transaction.

A message is written in the same transaction as what it announces (a coupon issued, a campaign
run), so it is sent if and only if that is committed. Which channel carries it is decided here,
once: email when SMTP is configured and the customer has an email on file, else SMS when a
gateway is configured; with neither, a ``no_channel`` row records that nothing could be sent.

Which channels a hub has is configuration, not data: :func:`configure` registers them per
database (the service does it at start; a database nobody configured has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.config import NotifySection
from hub.loyalty.earn_models import Contact
from hub.loyalty.errors import UnknownCustomer
from hub.loyalty.models import Customer
from hub.notify.models import Attachment, Message

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
NO_CHANNEL = "no_channel"
STATUSES = (PENDING, SENT, FAILED, NO_CHANNEL)
DONE = (SENT, FAILED)
"""Final after delivery attempts: the text is not needed any more."""

SENSITIVE_KINDS: frozenset[str] = frozenset({"wallet_link", "wallet_code"})
"""Kinds whose text carries a secret (a wallet link, a one-time code): kept only until the
message is delivered or finally failed, then erased (:func:`redact`), so the queue is not a
store of working links and codes. Other texts (a coupon's serial, a birthday note) stay for
the record: what they name is in the database anyway. A ``no_channel`` message keeps its text
(nothing was sent; see docs/notifications.md "Not done")."""


def is_sensitive(kind: str) -> bool:
    return kind in SENSITIVE_KINDS


def redacted_text(kind: str, status: str) -> str:
    """What a sensitive message's text becomes once it is final."""
    done = {SENT: "sent", FAILED: "not delivered"}.get(status, status)
    return f"[{kind} {done}; its text held a secret and was erased]"


def redact(msg: Message) -> bool:
    """Erase a sensitive message's text once it is sent or failed for good; whether it
    changed anything."""
    if not is_sensitive(msg.kind) or msg.status not in DONE:
        return False
    note = redacted_text(msg.kind, msg.status)
    if msg.text == note:
        return False
    msg.text = note
    return True


def redact_finished(session: Session) -> int:
    """Erase the texts of sent or failed sensitive messages left from before this rule (run
    at start); how many were erased."""
    n = 0
    for msg in session.scalars(select(Message).where(Message.kind.in_(sorted(SENSITIVE_KINDS)),
                                                     Message.status.in_(DONE))):
        n += redact(msg)
    return n


@dataclass(frozen=True, slots=True)
class Channels:
    """Which delivery channels are configured."""

    email: bool = False
    sms: bool = False

    @classmethod
    def from_config(cls, notify: NotifySection) -> Channels:
        return cls(email=bool(notify.smtp_host), sms=bool(notify.sms_url))


_channels: dict[str, Channels] = {}


def _bind_key(bind: Any) -> str:
    return str(bind.url.render_as_string(hide_password=True))


def configure(bind: Any, channels: Channels) -> None:
    """Register the channels of the hub on the database ``bind`` (an engine or a
    :class:`hub.db.Database`)."""
    engine = getattr(bind, "engine", bind)
    _channels[_bind_key(engine)] = channels


def channels_for(session: Session) -> Channels:
    return _channels.get(_bind_key(session.get_bind()), Channels())


@dataclass(frozen=True, slots=True)
class Route:
    """The channel chosen for a message, and whom it shows as the recipient."""

    channel: str
    masked: str


def choose_channel(channels: Channels, *, email_masked: str | None,
                   phone_masked: str) -> Route:
    """Email when it is configured and on file, else SMS when configured, else none."""
    if channels.email and email_masked:
        return Route("email", email_masked)
    if channels.sms:
        return Route("sms", phone_masked)
    return Route("", "")


def enqueue(session: Session, *, customer: str, kind: str, text: str, subject: str = "",
            attachments: Sequence[tuple[str, str, bytes]] = (), idempotency_key: str,
            now: datetime) -> int | None:
    """Queue a message to ``customer`` in the caller's transaction; its id, or ``None`` when
    no channel can carry it (a ``no_channel`` row records that).

    ``attachments`` are ``(filename, content_type, data)``; only email carries them. Repeating
    ``idempotency_key`` queues nothing new and returns what the first call returned.

    Raises:
        UnknownCustomer: no such customer.
    """
    found = session.execute(select(Message.id, Message.status)
                            .where(Message.idempotency_key == idempotency_key)).first()
    if found is not None:
        return None if found.status == NO_CHANNEL else int(found.id)
    person = session.get(Customer, customer)
    if person is None:
        raise UnknownCustomer("unknown customer")
    contact = session.get(Contact, customer)
    route = choose_channel(channels_for(session),
                           email_masked=None if contact is None or contact.email_enc is None
                           else contact.email_masked,
                           phone_masked=person.masked)
    msg = Message(idempotency_key=idempotency_key, customer_id=customer, kind=kind[:32],
                  channel=route.channel, recipient_masked=route.masked, subject=subject[:200],
                  text=text, status=PENDING if route.channel else NO_CHANNEL, attempts=0,
                  next_at=now, last_error=None if route.channel else "no channel configured",
                  created_at=now, sent_at=None)
    try:
        with session.begin_nested():  # a twin with the same key: keep the caller's transaction
            session.add(msg)
            session.flush()
            if route.channel == "email":
                for filename, content_type, data in attachments:
                    session.add(Attachment(message_id=msg.id, filename=filename[:120],
                                           content_type=content_type[:80], data=data))
                session.flush()
    except IntegrityError:
        again = session.execute(select(Message.id, Message.status)
                                .where(Message.idempotency_key == idempotency_key)).one()
        return None if again.status == NO_CHANNEL else int(again.id)
    return msg.id if route.channel else None


def listing(session: Session, *, status: str | None = None, limit: int = 200) -> list[Message]:
    """Newest messages first, optionally of one status (for the admin)."""
    stmt = select(Message)
    if status is not None:
        stmt = stmt.where(Message.status == status)
    return list(session.scalars(stmt.order_by(Message.id.desc()).limit(limit)))


def message_json(msg: Message) -> dict[str, Any]:
    """A message for the admin listing: never its text (a one-time code or a wallet link may
    be in it until it is sent) nor its address."""
    from venue.messages import rfc3339

    return {"id": msg.id, "customer": msg.customer_id, "kind": msg.kind,
            "channel": msg.channel or None, "recipient": msg.recipient_masked or None,
            "subject": msg.subject, "status": msg.status, "attempts": msg.attempts,
            "last_error": msg.last_error, "created_at": rfc3339(msg.created_at),
            "sent_at": None if msg.sent_at is None else rfc3339(msg.sent_at),
            "next_at": rfc3339(msg.next_at) if msg.status == PENDING else None}
