"""Commands to devices through the hub, recorded: resolve the device, decide whether to send,
publish, wait for the ``cmd_result`` carrying the command's id, and write how it ended.

:func:`resolve` and :func:`decide` are pure; :class:`ResultWaiter` pairs answers with waiting
requests (threads); :func:`run_command` does the I/O around them with the link injected, so tests
run it over a real broker without the HTTP layer too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.auth import Principal
from hub.db import Database
from hub.loyalty.errors import Conflict
from hub.ops.models import CommandRecord
from hub.series import NotFound
from venue.clock import Clock
from venue.errors import PayloadError
from venue.ids import new_id
from venue.messages import Command, CommandResult, rfc3339
from venue.topics import DeviceRef

COMMANDS = ("open", "lock", "unlock", "free-passage", "reload", "ping")
"""What the hub API lets operators send (``venue cmd`` can send anything a device knows)."""


class Reason(StrEnum):
    """Why a command did not end ``ok``."""

    DEVICE_ERROR = "device_error"
    """The device answered and said it failed."""
    OFFLINE = "offline"
    """The device's retained status says offline: not sent (it would run when it comes back)."""
    NO_ANSWER = "no_answer"
    """Sent, and no answer within the timeout."""


@dataclass(frozen=True, slots=True)
class Target:
    """A device as the hub knows it: where it lives in the topic tree and its last state."""

    site: str
    role: str
    device: str
    state: str

    @property
    def ref(self) -> DeviceRef:
        return DeviceRef(self.site, self.role, self.device)


@dataclass(frozen=True, slots=True)
class Decision:
    send: bool
    reason: Reason | None = None
    message: str = ""


def resolve(device: str, site: str | None, known: Iterable[Target]) -> Target:
    """The one device called ``device`` (in ``site`` when given).

    Raises:
        NotFound: no such device has ever reported to the hub.
        Conflict: ``ambiguous``: several sites have a device with this id (pass ``site``).
    """
    found = {(t.site, t.role, t.device): t for t in known
             if t.device == device and (site is None or t.site == site)}
    if not found:
        raise NotFound(f"no device {device!r} has ever reported to the hub")
    if len(found) > 1:
        names = ["/".join(k) for k in sorted(found)]
        raise Conflict("ambiguous", f"device id {device!r} is ambiguous; pass ?site=",
                       devices=names)
    return next(iter(found.values()))


def decide(target: Target) -> Decision:
    """Send to a device unless its status says it is offline.

    An offline device keeps a persistent session, so the broker would hold the command and the
    device would run it on reconnecting, maybe hours later: an ``open`` nobody is waiting for.
    """
    if target.state == "offline":
        return Decision(False, Reason.OFFLINE,
                        f"{target.role} {target.device} is offline (its last status); not sent")
    return Decision(True)


def outcome(answer: CommandResult | None, target: Target, name: str,
            timeout_s: float) -> tuple[str, Reason | None, str]:
    """``(result, reason, message)`` of a sent command from its answer (``None``: no answer)."""
    if answer is None:
        return ("timeout", Reason.NO_ANSWER,
                f"{target.device} did not answer {name!r} within {timeout_s:g} s "
                "(is it online and subscribed to its commands?)")
    if answer.ok:
        return "ok", None, ""
    return "error", Reason.DEVICE_ERROR, (answer.error or "the device reported an error")[:500]


class ResultWaiter:
    """Hands each ``cmd_result`` to the request waiting for that command id, and keeps answers
    that came after their request gave up (for the record: the gate may have opened after all).
    """

    LATE_KEPT = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, tuple[threading.Event, list[CommandResult]]] = {}
        self._expired: dict[str, None] = {}
        self._late: list[CommandResult] = []

    def expect(self, command_id: str) -> None:
        with self._lock:
            self._slots[command_id] = (threading.Event(), [])

    def deliver(self, payload: bytes) -> bool:
        """Called with every ``cmd_result`` payload; True when someone was waiting for it."""
        try:
            res = CommandResult.decode(payload)
        except PayloadError:
            return False
        with self._lock:
            slot = self._slots.get(res.id)
            if slot is None:
                if res.id not in self._expired:
                    return False
                del self._expired[res.id]
                self._late.append(res)
                del self._late[:-self.LATE_KEPT]  # nobody read them: keep the newest
                return True
        slot[1].append(res)
        slot[0].set()
        return True

    def wait(self, command_id: str, timeout: float) -> CommandResult | None:
        with self._lock:
            slot = self._slots.get(command_id)
        answered = slot is not None and slot[0].wait(timeout)
        with self._lock:
            self._slots.pop(command_id, None)
            if answered and slot is not None:
                return slot[1][0]
            if slot is not None and slot[1]:  # answered just after the wait ended
                return slot[1][0]
            self._expired[command_id] = None
            while len(self._expired) > self.LATE_KEPT:
                self._expired.pop(next(iter(self._expired)))
            return None

    def take_late(self) -> list[CommandResult]:
        """Answers that arrived after their timeout, once each."""
        with self._lock:
            late, self._late = self._late, []
            return late


class CommandLink(Protocol):
    """What :func:`run_command` needs of the MQTT side (:class:`hub.ops.live.OpsLive`)."""

    waiter: ResultWaiter

    @property
    def ready(self) -> bool: ...

    def publish(self, topic: str, payload: bytes) -> None: ...

    def targets(self) -> Sequence[Target]: ...


def record_json(r: CommandRecord) -> dict[str, Any]:
    return {
        "id": r.id, "idempotency_key": r.idempotency_key,
        "by": {"role": r.by_role, "device": r.by_device},
        "site": r.site, "role": r.role, "device": r.device, "name": r.name, "args": r.args,
        "sent_at": rfc3339(r.sent_at), "result": r.result, "reason": r.reason,
        "message": r.message, "data": r.data,
        "answered_at": None if r.answered_at is None else rfc3339(r.answered_at),
    }


def table_targets(db: Database) -> list[Target]:
    """Devices from the hub's ``devices`` table (what ingest learnt from status and events)."""
    from hub.models import Device

    with db.read() as s:
        return [Target(d.site, d.role, d.device, d.state) for d in s.scalars(select(Device))]


def known_targets(db: Database, live: Sequence[Target]) -> list[Target]:
    """The table's devices, with the live view's state where it has one (it is fresher)."""
    merged = {(t.site, t.role, t.device): t for t in table_targets(db)}
    for t in live:
        key = (t.site, t.role, t.device)
        if t.state != "unknown" or key not in merged:
            merged[key] = t
    return list(merged.values())


def run_command(
    db: Database, link: CommandLink, *, who: Principal, device: str, site: str | None, name: str,
    args: dict[str, Any], timeout_s: float, idempotency_key: str | None, clock: Clock,
    on_sent: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Send one command and wait for its answer; every command is recorded, sent or not.

    A repeated ``idempotency_key`` returns the first command's record (it is not sent again).

    Raises:
        NotFound: unknown device. Conflict: ambiguous device id.
    """
    record_late(db, link.waiter, clock)
    key = idempotency_key or new_id()
    with db.read() as s:
        old = s.scalar(select(CommandRecord).where(CommandRecord.idempotency_key == key))
        if old is not None:
            return record_json(old)
    target = resolve(device, site, known_targets(db, link.targets()))
    decision = decide(target)
    cmd = Command(name, args, by=f"{who.role}:{who.device}", ts=rfc3339(clock.now()))
    row = CommandRecord(
        id=cmd.id, idempotency_key=key, by_role=who.role, by_device=who.device,
        site=target.site, role=target.role, device=target.device, name=name, args=args,
        sent_at=clock.now(), result="pending" if decision.send else "timeout",
        reason=None if decision.reason is None else decision.reason.value,
        message=decision.message or None, data=None, answered_at=None,
    )
    try:
        with db.write() as s:
            s.add(row)
    except IntegrityError:  # the same key at the same moment from a retry: answer with that one
        with db.read() as s:
            old = s.scalar(select(CommandRecord).where(CommandRecord.idempotency_key == key))
            if old is None:
                raise
            return record_json(old)
    if not decision.send:
        with db.read() as s:
            return record_json(_get(s, cmd.id))
    link.waiter.expect(cmd.id)
    link.publish(target.ref.cmd(name), cmd.encode())
    if on_sent is not None:
        on_sent(cmd.id)
    answer = link.waiter.wait(cmd.id, timeout_s)
    result, reason, message = outcome(answer, target, name, timeout_s)
    with db.write() as s:
        rec = _get(s, cmd.id)
        rec.result = result
        rec.reason = None if reason is None else reason.value
        rec.message = message or None
        rec.data = None if answer is None else answer.data
        rec.answered_at = None if answer is None else clock.now()
        s.flush()
        return record_json(rec)


def _get(s: Any, command_id: str) -> CommandRecord:
    rec = s.get(CommandRecord, command_id)
    if rec is None:  # pragma: no cover - written just before, in this process
        raise NotFound(f"no command {command_id}")
    assert isinstance(rec, CommandRecord)
    return rec


def record_late(db: Database, waiter: ResultWaiter, clock: Clock) -> int:
    """Write answers that came after their command timed out onto its record (``result`` stays
    ``timeout``, as the API answered; ``answered_at`` and ``message`` tell what happened)."""
    late = waiter.take_late()
    if not late:
        return 0
    with db.write() as s:
        for res in late:
            rec = s.get(CommandRecord, res.id)
            if rec is None or rec.answered_at is not None:
                continue
            how = "ok" if res.ok else f"error: {res.error or 'unknown'}"
            rec.answered_at = clock.now()
            rec.data = res.data
            rec.message = f"{rec.message or ''} It answered after the timeout: {how}."[:500]
    return len(late)


def list_commands(db: Database, device: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest commands first, for one device or all."""
    stmt = select(CommandRecord)
    if device is not None:
        stmt = stmt.where(CommandRecord.device == device)
    with db.read() as s:
        rows = s.scalars(stmt.order_by(CommandRecord.sent_at.desc(), CommandRecord.id.desc())
                         .limit(limit))
        return [record_json(r) for r in rows]

