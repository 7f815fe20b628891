"""Tables of the notification queue."""

from __future__ import annotations
