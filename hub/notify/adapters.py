"""Delivery adapters: one interface, an SMTP email adapter and an HTTP SMS-gateway adapter.

An adapter sends one :class:`Outgoing` or raises :class:`DeliveryFailed`; it neither retries
nor records (the sender does both). Error texts never hold the address: the sender stores them.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

import requests

from hub.config import NotifySection


class DeliveryFailed(Exception):
    """The channel did not take the message; the text says why (without the address)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message ready to go: ``to`` is the clear address (kept in memory only)."""

    channel: str
    to: str
    subject: str
    text: str
    attachments: tuple[tuple[str, str, bytes], ...] = ()
    """``(filename, content_type, data)``."""


class Adapter(Protocol):
    def send(self, msg: Outgoing) -> None:
        """Deliver ``msg`` or raise :class:`DeliveryFailed`."""


def _secret(value: str | None, path: str | None) -> str | None:
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return value


@dataclass
class SmtpAdapter:
    """Email over SMTP (``smtplib``), with STARTTLS and login when configured."""

    host: str
    port: int = 25
    starttls: bool = False
    user: str = ""
    password: str | None = None
    mail_from: str = "venue@localhost"
    timeout: float = 10.0
    cafile: str | None = None
    """CA bundle for STARTTLS (a venue's own mail relay); ``None``: the system's CAs."""
    smtp: Callable[..., smtplib.SMTP] = smtplib.SMTP

    def build(self, msg: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.mail_from
        mail["To"] = msg.to
        mail["Subject"] = msg.subject or "venue"
        mail.set_content(msg.text)
        for filename, content_type, data in msg.attachments:
            main, _, sub = content_type.partition("/")
            mail.add_attachment(data, maintype=main or "application",
                                subtype=sub or "octet-stream", filename=filename)
        return mail

    def send(self, msg: Outgoing) -> None:
        mail = self.build(msg)
        try:
            with self.smtp(self.host, self.port, timeout=self.timeout) as conn:
                if self.starttls:
                    conn.starttls(context=ssl.create_default_context(cafile=self.cafile))
                if self.user:
                    conn.login(self.user, self.password or "")
                refused = conn.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryFailed(f"recipient refused (SMTP {codes})") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {exc.smtp_code}: {type(exc).__name__}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}"[:200]) from None
        if refused:
            raise DeliveryFailed("recipient refused")


@dataclass
class SmsGatewayAdapter:
    """SMS through an HTTP gateway: a URL template and an optional body template.

    ``{phone}`` and ``{text}`` are replaced: URL-encoded in the URL; in a body that starts with
    ``{`` or ``[``, JSON-escaped (sent as ``application/json``); in any other body, form-encoded
    (sent as ``application/x-www-form-urlencoded``). Any answer but 2xx is a failure.
    """

    url: str
    method: str = "POST"
    body: str = ""
    authorization: str | None = None
    timeout: float = 5.0
    http: Any = field(default_factory=requests.Session)

    def render(self, msg: Outgoing) -> tuple[str, bytes | None, dict[str, str]]:
        url = self.url.replace("{phone}", quote(msg.to, safe="")).replace(
            "{text}", quote(msg.text, safe=""))
        headers: dict[str, str] = {}
        if self.authorization:
            headers["Authorization"] = self.authorization
        if not self.body:
            return url, None, headers
        as_json = self.body.lstrip().startswith(("{", "["))
        headers["Content-Type"] = ("application/json" if as_json
                                   else "application/x-www-form-urlencoded")

        def esc(v: str) -> str:
            return json.dumps(v, ensure_ascii=False)[1:-1] if as_json else quote_plus(v)

        text = self.body.replace("{phone}", esc(msg.to)).replace("{text}", esc(msg.text))
        return url, text.encode(), headers

    def send(self, msg: Outgoing) -> None:
        url, data, headers = self.render(msg)
        try:
            resp = self.http.request(self.method.upper(), url, data=data, headers=headers,
                                     timeout=self.timeout)
        except requests.RequestException as exc:
            raise DeliveryFailed(f"gateway unreachable: {type(exc).__name__}") from None
        if not 200 <= resp.status_code < 300:
            raise DeliveryFailed(f"gateway answered {resp.status_code}")


def build_adapters(notify: NotifySection) -> dict[str, Adapter]:
    """The adapters ``[notify]`` configures (a channel without a host/URL is off)."""
    out: dict[str, Adapter] = {}
    if notify.smtp_host:
        out["email"] = SmtpAdapter(
            host=notify.smtp_host, port=notify.smtp_port, starttls=notify.smtp_starttls,
            user=notify.smtp_user,
            password=_secret(notify.smtp_password, notify.smtp_password_file),
            mail_from=notify.mail_from, cafile=notify.smtp_cafile)
    if notify.sms_url:
        out["sms"] = SmsGatewayAdapter(
            url=notify.sms_url, method=notify.sms_method, body=notify.sms_body,
            authorization=_secret(notify.sms_auth, notify.sms_auth_file))
    return out
