"""The demo's mailbox: a local SMTP server (aiosmtpd) that keeps every mail it gets as a file.

The demo hub sends its notifications (wallet links, campaign coupons with their QR) to it over
real SMTP, so a newcomer sees what customers would receive without configuring a mail relay.
Each message is written as it arrived (``NNNN-YYYYmmddTHHMMSS.eml``, readable as text or in any
mail client) to ``var/demo/mail/``. Only for the demo: it accepts any sender and recipient.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any


class _Keep:
    """aiosmtpd handler: every message's bytes to a new file in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        start = len(list(folder.glob("*.eml"))) + 1
        self.numbers = itertools.count(start)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        name = f"{next(self.numbers):04d}-{time.strftime('%Y%m%dT%H%M%S')}.eml"
        tmp = self.folder / (name + ".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.folder / name)  # a reader never sees half a mail
        return "250 Message accepted for delivery"


class Mailbox:
    """A running local SMTP server on 127.0.0.1:``port``; ``stop()`` ends it."""

    def __init__(self, folder: Path, port: int) -> None:
        from aiosmtpd.controller import Controller

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port
        self._controller = Controller(_Keep(folder), hostname="127.0.0.1", port=port)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def start_mailbox(folder: Path, port: int) -> Mailbox | None:
    """The mailbox, or ``None`` when aiosmtpd is not installed (it comes with the dev extra)."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        return None
    return Mailbox(folder, port)
