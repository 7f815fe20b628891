"""The MQTT link's parts that need no paho: inbound messages, the command thread, the outbox pump.

:mod:`venue.mqtt` wires them to paho. Kept apart so each stays small and so the delivery logic
(order, acks, what counts as malformed) reads without paho's callback plumbing around it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from venue.errors import PayloadError
from venue.messages import Command, CommandResult, load_json
from venue.outbox import Outbox, OutboxItem

log = logging.getLogger("venue.mqtt")

CommandHandler = Callable[[Command], "CommandResult | dict[str, Any] | None"]


class Acker:
    """Sends the PUBACK of one inbound message at most once (manual-ack mode)."""

    __slots__ = ("_done", "_fn", "_lock")

    def __init__(self, fn: Callable[[], None]) -> None:
        self._fn = fn
        self._done = False
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._fn()


@dataclass(frozen=True)
class InboundMessage:
    """A message from a subscription, decoupled from paho's message object.

    Attributes:
        topic: The topic it was published on (not the filter).
        payload: Raw bytes; decoding is the handler's job.
        qos: QoS it was delivered with.
        retain: True for a retained message delivered on subscribe.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    _acker: Acker | None = field(default=None, repr=False, compare=False)

    def ack(self) -> None:
        """Send the PUBACK now; only does something on a link built with ``manual_ack=True``.

        A hub acks after its database commit, so a crash before the commit makes the broker
        deliver the message again. Calling it twice sends one PUBACK.
        """
        if self._acker is not None:
            self._acker()


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (``+``, ``#``), with a ``$share/group/`` prefix stripped."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        topic_filter = parts[2] if len(parts) == 3 else ""
    flt, top = topic_filter.split("/"), topic.split("/")
    if topic.startswith("$") and flt[0] in ("+", "#"):
        return False  # wildcards never match $SYS-style topics
    for i, part in enumerate(flt):
        if part == "#":
            return True
        if i >= len(top) or (part != "+" and part != top[i]):
            return False
    return len(flt) == len(top)


def command_id(payload: bytes) -> str | None:
    """The ``id`` of a command that failed validation, so its sender still gets an answer."""
    try:
        obj = load_json(payload)
    except PayloadError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("id"), str) and 0 < len(obj["id"]) <= 64:
        return str(obj["id"])
    return None


class CommandDispatcher:
    """Runs command handlers on its own thread, in arrival order, and reports each result.

    Args:
        reply: Publishes a :class:`CommandResult` on ``cmd_result``.
        count: Bumps a link counter (``commands``, ``handler_errors``, ``malformed``).
    """

    def __init__(self, reply: Callable[[CommandResult], None], count: Callable[[str], None]):
        self.handlers: dict[str, CommandHandler] = {}
        self._reply = reply
        self._count = count
        self._queue: deque[tuple[Command | None, str | None, Acker | None]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, name: str, payload: bytes, acker: Acker | None) -> None:
        """Take a command from paho's thread: validate it now, run it later."""
        try:
            cmd = Command.decode(name, payload)
        except PayloadError as exc:
            self._count("malformed")
            log.warning("malformed payload on cmd/%s (%s): %s", name, exc.reason, exc)
            self._queue.append((None, command_id(payload), acker))
        else:
            self._queue.append((cmd, cmd.id, acker))
        self._wake.set()

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            while self._queue:
                cmd, id_, acker = self._queue.popleft()
                result = self.run(cmd, id_)
                if result is not None:
                    self._reply(result)
                if acker:
                    acker()

    def run(self, cmd: Command | None, id_: str | None) -> CommandResult | None:
        """The answer to one command (``None`` for a malformed one without an id)."""
        if cmd is None:
            return None if id_ is None else CommandResult(id_, False, "malformed command")
        self._count("commands")
        handler = self.handlers.get(cmd.name)
        if handler is None:
            log.warning("unknown command %r (id %s)", cmd.name, cmd.id)
            return CommandResult(cmd.id, False, "unknown command")
        try:
            out = handler(cmd)
        except Exception as exc:
            self._count("handler_errors")
            log.exception("command %s (id %s) failed", cmd.name, cmd.id)
            return CommandResult(cmd.id, False, f"{exc.__class__.__name__}: {exc}")
        if isinstance(out, CommandResult):
            return out
        return CommandResult(cmd.id, True, None, dict(out or {}))


class OutboxSender:
    """Moves outbox items to the client in seq order and turns PUBACKs into outbox deletes.

    Runs on its own thread, so ``publish_event`` only writes the outbox and paho's thread only
    notes acks (:meth:`acked`). At most ``max_pending`` items are handed over and not yet acked,
    which bounds what the client holds in memory during an outage.

    Args:
        outbox: The queue to drain.
        publish: Hands one item to the client; returns its message id (``None`` for QoS 0).
        can_send: False while disconnected or while the client still resends older messages.
        max_pending: Items handed over and not yet acked.
    """

    def __init__(
        self,
        outbox: Outbox,
        publish: Callable[[OutboxItem], int | None],
        can_send: Callable[[], bool],
        max_pending: int = 1000,
    ) -> None:
        self.outbox = outbox
        self._publish = publish
        self._can_send = can_send
        self.max_pending = max_pending
        self.published = 0
        self.acked_count = 0
        self._mid_seq: dict[int, int] = {}  # this thread only (and stop, after the join)
        self._cursor = 0  # highest seq handed over
        self._acked: deque[int] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return len(self._mid_seq)

    def wake(self) -> None:
        self._wake.set()

    def acked(self, mid: int) -> None:
        """PUBACK for ``mid`` (paho's thread): note it and return."""
        self._acked.append(mid)
        self._wake.set()

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush_acks()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self.flush_acks()
                self.outbox.flush(if_older_than=self.outbox.flush_interval)
                self._send()
            except Exception:
                log.exception("outbox sender failed; retrying")
                self._stop.wait(1.0)

    def _send(self) -> None:
        room = self.max_pending - len(self._mid_seq)
        if room <= 0 or not self._can_send():
            return
        for item in self.outbox.peek_after(self._cursor, min(room, 500)):
            mid = self._publish(item)
            self._cursor = item.seq
            if mid is None:  # QoS 0: nothing will be acked
                self.outbox.ack(item.seq)
            else:
                self._mid_seq[mid] = item.seq
                self.published += 1
        if len(self._mid_seq) < self.max_pending and self.outbox.depth() > len(self._mid_seq):
            self._wake.set()  # more to send: go round again without waiting

    def flush_acks(self) -> None:
        """Delete acked items from the outbox, one transaction per batch."""
        seqs: list[int] = []
        while self._acked:
            seq = self._mid_seq.pop(self._acked.popleft(), None)
            if seq is not None:  # None: status, cmd_result, raw or telemetry publishes
                seqs.append(seq)
        if seqs:
            self.outbox.ack_many(seqs)
            self.acked_count += len(seqs)
