"""systemd notifications (``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``) behind one method.

A stand-in until the shared service runtime (``venue/runtime.py``) is there; it speaks the same
datagram protocol as ``sd_notify(3)`` and does nothing outside systemd.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Protocol

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Something that tells the service manager how the daemon is doing."""

    def notify(self, state: str) -> None:
        """Send ``state`` (e.g. ``"WATCHDOG=1"``); never raise."""
        ...


class SdNotifier:
    """``sd_notify`` over ``$NOTIFY_SOCKET``; a no-op when systemd did not set it.

    Args:
        address: The socket path; default from the environment.
    """

    def __init__(self, address: str | None = None) -> None:
        addr = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if addr.startswith("@"):  # abstract namespace
            addr = "\0" + addr[1:]
        self.address = addr

    def notify(self, state: str) -> None:
        if not self.address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(state.encode(), self.address)
        except OSError as exc:
            log.debug("sd_notify %s failed: %s", state, exc)
