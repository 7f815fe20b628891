"""The pure redemption decision: rules + a ticket's state + a scan → admit or reject, and why.

No I/O and no clock: the caller passes ``now`` (the hub's clock for online scans, the scan time
for offline uploads). :mod:`hub.redemption` locks, decides with this, and writes the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from venue.reasons import Reason, Result

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class Rules:
    """What the series says (intersected with the validity signed into a generated code)."""

    entry_rule: str
    entries_per_code: int
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool = True
    shared_capacity: int | None = None
    """For a series' shared code: how many entries all holders together may make."""


@dataclass(frozen=True, slots=True)
class TicketState:
    status: str
    entries_used: int
    inside: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """``counted``: this admission uses an entry; ``inside``: the holder's state afterwards."""

    result: Result
    reason: Reason
    counted: bool = False
    inside: bool = False
    detail: str = ""

    @property
    def admitted(self) -> bool:
        return self.result == Result.ADMIT


def _reject(reason: Reason, state: TicketState, detail: str = "") -> Decision:
    return Decision(Result.REJECT, reason, False, state.inside, detail)


def decide(rules: Rules, state: TicketState, direction: Direction, now: datetime) -> Decision:
    """Decide one scan of one ticket.

    Entry rules:
        * ``single``: every ``in`` uses one of ``entries_per_code``; ``out`` is always let through.
        * ``reentry``: the first ``in`` uses the ticket; after an ``out`` the holder may come back
          in without using another entry; an ``in`` while inside is ``already_used``.
        * ``antipassback``: ``in`` and ``out`` must alternate (``out`` while outside is
          ``wrong_direction``, ``in`` while inside is ``already_used``); every ``in`` counts.
    A shared code counts every ``in`` against the series' capacity (``capacity`` when full).
    Exits are never refused for validity: nobody should be locked in when a ticket expires.
    """
    if state.status in ("revoked", "annulled"):
        return _reject(Reason.REVOKED, state, f"ticket is {state.status}")
    if state.status == "blocked" or not rules.active:
        return _reject(Reason.BLOCKED, state, "ticket is blocked" if rules.active else
                       "series is not active")
    if state.status != "issued":
        return _reject(Reason.INVALID, state, "ticket is not issued")
    if direction == "out":
        if rules.entry_rule != "single" and rules.shared_capacity is None and not state.inside:
            return _reject(Reason.WRONG_DIRECTION, state, "holder is not inside")
        return Decision(Result.ADMIT, Reason.OK, False, False)
    if rules.valid_from is not None and now < rules.valid_from:
        return _reject(Reason.NOT_YET_VALID, state)
    if rules.valid_until is not None and now >= rules.valid_until:
        return _reject(Reason.EXPIRED, state)
    if rules.shared_capacity is not None:
        if state.entries_used >= rules.shared_capacity:
            return _reject(Reason.CAPACITY, state, "the series' capacity is used up")
        return Decision(Result.ADMIT, Reason.OK, True, True)
    if rules.entry_rule in ("reentry", "antipassback") and state.inside:
        return _reject(Reason.ALREADY_USED, state, "holder is already inside")
    if rules.entry_rule == "reentry" and state.entries_used > 0:
        return Decision(Result.ADMIT, Reason.OK, False, True, "re-entry")
    if state.entries_used >= rules.entries_per_code:
        return _reject(Reason.ALREADY_USED, state)
    return Decision(Result.ADMIT, Reason.OK, True, True)


def entries_left(rules: Rules, entries_used: int) -> int:
    cap = rules.shared_capacity if rules.shared_capacity is not None else rules.entries_per_code
    return max(0, cap - entries_used)
