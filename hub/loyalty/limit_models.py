"""Tables of the state hub replicas share (rate-limit windows).

A limit kept in one process would let each replica of a chain grant its own share again; a row per
(scope, key, window) in the hub's database is the one counter every replica increments.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base


class RateWindow(Base):
    """Hits of one key in one fixed window of one limit (``scope``: ``identify_device``, ...).

    ``window_start`` is the window's start in whole seconds since the epoch (windows are aligned
    to multiples of their length, so every replica computes the same one from its clock).
    """

    __tablename__ = "rate_windows"
    __table_args__ = (Index("ix_rate_windows_scope_start", "scope", "window_start"),)

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
