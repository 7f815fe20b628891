"""One root exception for venue, with subclasses that also inherit the built-in that fits.

Callers can catch ``VenueError`` for everything of ours, or the built-in (``ValueError``) the way
they would for any library, as gpiozero does.
"""

from __future__ import annotations


class VenueError(Exception):
    """Root of every exception venue raises on purpose."""


class ConfigError(VenueError, ValueError):
    """A config file or override is missing, unreadable or holds a wrong value.

    The message is one line that names the file, the key and what was expected, so the CLI can
    print it as it is and exit with status 2.
    """


class PayloadError(VenueError, ValueError):
    """A message from outside (MQTT payload, scanned code, serial line) is malformed.

    ``reason`` is a short machine-readable word for counters (``too_large``, ``not_json``, ...).
    """

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


class PhoneNumberError(VenueError, ValueError):
    """A phone number that cannot be parsed or is not a valid number for its region."""


class CodeError(VenueError, ValueError):
    """A ticket code that cannot be parsed or verified; ``reason`` is a :class:`Reason`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
