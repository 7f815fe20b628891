"""Birthday reward, welcome and win-back messages: a job run daily (or more often) that does
each thing once per customer and period, whenever and however often it runs.

What is due is decided by pure functions (:func:`birthday_due`, :func:`welcome_due`,
:func:`winback_due`) over plain values. :func:`run_triggers` applies them, one customer per
transaction under the member's row lock; ``wallet_trigger_runs`` is unique per (business,
customer, kind, period) and the birthday's ledger row has the key ``birthday:{customer}:{year}``,
so a second run on the same day (a restart, the hub's thread and cron at once) credits nothing.
"""

from __future__ import annotations

import calendar
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import issuing
from hub.db import Database
from hub.loyalty import ledger
from hub.loyalty.models import Business, Member
from hub.wallet import notices
from hub.wallet.models import TriggerRun, WalletProfile, WalletRules
from venue.clock import Clock
from venue.messages import rfc3339

log = logging.getLogger("venue.hub.wallet")

WELCOME_WINDOW = timedelta(days=2)
"""Welcome only members who joined this recently: turning the rule on greets no old customer."""
RULE_FIELDS = ("birthday_points", "birthday_series", "birthday_text", "welcome_text",
               "winback_days", "winback_text", "referrer_points", "referee_points")
DEFAULT_BIRTHDAY_TEXT = "Happy birthday from {business}! {points} points are in your wallet."


@dataclass(frozen=True, slots=True)
class Due:
    """Whether a trigger is due, why (machine-readable), and the period it is done once for."""

    due: bool
    reason: str
    period: str = ""


def birthday_due(month: int | None, day: int | None, today: date, *, has_reward: bool) -> Due:
    """Due on the birthday (29 February: on the 28th in other years), once per year."""
    if not has_reward:
        return Due(False, "no_rule")
    if month is None or day is None:
        return Due(False, "no_birthday")
    if month == 2 and day == 29 and not calendar.isleap(today.year):
        day = 28
    if (today.month, today.day) != (month, day):
        return Due(False, "not_today")
    return Due(True, "birthday", str(today.year))


def welcome_due(joined_at: datetime, now: datetime, *, text: str) -> Due:
    if not text.strip():
        return Due(False, "no_rule")
    if joined_at < now - WELCOME_WINDOW:
        return Due(False, "joined_before")
    return Due(True, "welcome", "once")


def winback_due(last_visit_at: datetime | None, now: datetime, *, days: int, text: str) -> Due:
    """Due ``days`` after the last visit, once per absence (the period is that visit)."""
    if days <= 0 or not text.strip():
        return Due(False, "no_rule")
    if last_visit_at is None:
        return Due(False, "never_visited")
    if now - last_visit_at < timedelta(days=days):
        return Due(False, "visited_recently")
    return Due(True, "winback", rfc3339(last_visit_at))


# --- rules ---------------------------------------------------------------------------------------


def rules_dict(rules: WalletRules | None) -> dict[str, Any]:
    if rules is None:
        return {"birthday_points": 0, "birthday_series": None, "birthday_text": "",
                "welcome_text": "", "winback_days": 0, "winback_text": "",
                "referrer_points": 0, "referee_points": 0}
    return {name: getattr(rules, name) for name in RULE_FIELDS}


def set_rules(session: Session, business_id: int, values: dict[str, Any], *,
              now: datetime) -> WalletRules:
    rules = session.get(WalletRules, business_id)
    if rules is None:
        rules = WalletRules(business_id=business_id)
        session.add(rules)
    for name in RULE_FIELDS:
        setattr(rules, name, values[name])
    rules.changed_at = now
    session.flush()
    return rules


# --- the job ------------------------------------------------------------------------------------


@dataclass
class TriggerReport:
    birthdays: int = 0
    welcomes: int = 0
    winbacks: int = 0
    skipped: int = 0
    """Found done already (by an earlier run or a concurrent one)."""
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"birthdays": self.birthdays, "welcomes": self.welcomes,
                "winbacks": self.winbacks, "skipped": self.skipped, "errors": self.errors}


def _fill(text: str, business: str, points: int) -> str:
    return text.replace("{business}", business).replace("{points}", str(points))


def _once(session: Session, rules: WalletRules, business: str, customer: str, kind: str,
          period: str, now: datetime) -> bool:
    """Do one trigger for one customer in the caller's transaction; ``False``: done before."""
    bid = rules.business_id
    member = ledger.lock_member(session, bid, customer, now=now)
    if session.scalar(select(TriggerRun.id).where(
            TriggerRun.business_id == bid, TriggerRun.customer_id == customer,
            TriggerRun.kind == kind, TriggerRun.period == period)) is not None:
        return False
    result: dict[str, Any] = {}
    if kind == "birthday":
        points = rules.birthday_points
        if points > 0:
            ledger.append(session, member, account="points", delta=points, reason="birthday",
                          key=f"birthday:{customer}:{period}", device="hub", now=now)
            result["points"] = points
        if rules.birthday_series is not None:
            try:
                issued = issuing.issue(session, rules.birthday_series, customers=[customer],
                                       now=now)[0]
                result["coupon"] = issued.ref
            except issuing.IssueError as exc:  # points still given; the operator sees why
                result["coupon_error"] = str(exc)[:200]
        text = _fill(rules.birthday_text or DEFAULT_BIRTHDAY_TEXT, business, points)
    elif kind == "welcome":
        text = _fill(rules.welcome_text, business, 0)
    else:
        text = _fill(rules.winback_text, business, 0)
    result["notification"] = notices.send(session, customer=customer, kind=kind, text=text,
                                          subject=business, now=now,
                                          key=f"{kind}:{bid}:{customer}:{period}")
    session.add(TriggerRun(business_id=bid, customer_id=customer, kind=kind, period=period,
                           result=result, at=now))
    session.flush()
    return True


def run_triggers(db: Database, *, now: datetime, tz: str = "UTC") -> TriggerReport:
    """Everything due at ``now``, each once; safe to run at any time, any number of times.

    ``tz`` is the venue's time zone: a birthday is the customer's day there.
    """
    report = TriggerReport()
    today = now.astimezone(ZoneInfo(tz)).date()
    with db.read() as s:
        bids = list(s.scalars(select(WalletRules.business_id).order_by(WalletRules.business_id)))
        names = {b.id: b.name for b in s.scalars(select(Business))}
    for bid in bids:
        work: list[tuple[str, str, str]] = []
        with db.read() as s:
            rules = s.get(WalletRules, bid)
            if rules is None:
                continue
            finished = {tuple(row) for row in s.execute(
                select(TriggerRun.customer_id, TriggerRun.kind, TriggerRun.period)
                .where(TriggerRun.business_id == bid))}
            if rules.birthday_points > 0 or rules.birthday_series is not None:
                for profile in s.scalars(
                        select(WalletProfile).join(Member, Member.customer_id ==
                                                   WalletProfile.customer_id)
                        .where(Member.business_id == bid,
                               WalletProfile.birthday_month == today.month)):
                    due = birthday_due(profile.birthday_month, profile.birthday_day, today,
                                       has_reward=True)
                    if due.due:
                        work.append((profile.customer_id, "birthday", due.period))
            if rules.welcome_text.strip():
                for member in s.scalars(select(Member).where(
                        Member.business_id == bid, Member.joined_at >= now - WELCOME_WINDOW)):
                    due = welcome_due(member.joined_at, now, text=rules.welcome_text)
                    if due.due:
                        work.append((member.customer_id, "welcome", due.period))
            if rules.winback_days > 0 and rules.winback_text.strip():
                for member in s.scalars(select(Member).where(
                        Member.business_id == bid,
                        Member.last_visit_at <= now - timedelta(days=rules.winback_days))):
                    due = winback_due(member.last_visit_at, now, days=rules.winback_days,
                                      text=rules.winback_text)
                    if due.due:
                        work.append((member.customer_id, "winback", due.period))
        report.skipped += sum(1 for item in work if item in finished)
        work = [item for item in work if item not in finished]
        for customer, kind, period in work:
            try:
                with db.write() as s:
                    fresh = s.get(WalletRules, bid)
                    assert fresh is not None
                    done = _once(s, fresh, names.get(bid, ""), customer, kind, period, now)
            except IntegrityError:  # a concurrent run did it first
                done = False
            except Exception as exc:  # one customer's failure must not stop the others
                log.exception("trigger %s for %s failed", kind, customer)
                report.errors.append(f"{kind}:{customer}: {type(exc).__name__}")
                continue
            if not done:
                report.skipped += 1
            elif kind == "birthday":
                report.birthdays += 1
            elif kind == "welcome":
                report.welcomes += 1
            else:
                report.winbacks += 1
    return report


class TriggerThread:
    """Runs :func:`run_triggers` every ``interval_s`` in the hub (a daemon thread)."""

    def __init__(self, db: Database, *, clock: Clock, interval_s: float, tz: str = "UTC",
                 run: Callable[..., TriggerReport] = run_triggers) -> None:
        self._db, self._clock, self._interval, self._run = db, clock, interval_s, run
        self._tz = tz
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wallet-triggers", daemon=True)

    def start(self) -> TriggerThread:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self._run(self._db, now=self._clock.now(), tz=self._tz)
                if report.birthdays or report.welcomes or report.winbacks or report.errors:
                    log.info("wallet triggers: %s", report.to_dict())
            except Exception:
                log.exception("wallet triggers failed; trying again later")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
