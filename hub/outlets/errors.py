"""The 409 of every outlet, limit and transfer refusal: a reason code and a sentence."""

from __future__ import annotations

from typing import Any

from hub.loyalty.errors import Conflict


def refusal(reason: str, message: str, **detail: Any) -> Conflict:
    """A :class:`Conflict` whose body is ``{"reason", "message", ...detail}`` (409)."""
    exc = Conflict(reason, message, **detail)
    exc.detail["message"] = message
    return exc
