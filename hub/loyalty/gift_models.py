"""Tables of gifts and passes: lottery, gift sets, prepaid top-ups, passes, ticket sales."""

from __future__ import annotations
