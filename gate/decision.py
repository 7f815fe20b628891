"""The offline decision: a pure function of the scanned code, the replica, local history and time.

It mirrors what the hub decides online (reason codes from :class:`venue.reasons.Reason`), using
only what a gate holds: public keys, series rules, code statuses, imported-code hashes, shared
codes, the hub's ``used`` list and the gate's own journal. Nothing here reads a clock, a file or
the network, so every rule is tested with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from venue.codes import CodeKind, ScannedCode, classify, imported_hash, verify_signature
from venue.errors import CodeError
from venue.reasons import Reason, Result


@dataclass(frozen=True, slots=True)
class SeriesRule:
    """A series as the replica carries it (see docs/contracts.md)."""

    id: int
    name: str = ""
    kind: str = "ticket"
    code_mode: str = "generated"
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    issue_limit: int = 0
    """Serials at or above this can never be issued; a shared code's capacity."""
    issued_count: int = 0
    entries_per_code: int = 1
    """Entries (``in`` scans) each code allows."""
    entry_rule: str = "single"
    """``single`` (count entries), ``reentry`` (leave and come back), ``antipassback``."""
    active: bool = True


@dataclass(frozen=True, slots=True)
class Usage:
    """How a ticket has been used, from the hub's view or the gate's own journal."""

    entries: int = 0
    """Admissions in the ``in`` direction that were not annulled."""
    inside: bool = False
    """The last admission was an entry (for re-entry and anti-passback)."""
    first_used_at: datetime | None = None
    first_gate: str | None = None


class ReplicaView(Protocol):
    """What the decision reads from the local replica."""

    @property
    def hash_salt(self) -> bytes: ...

    def public_key(self, key_id: int) -> tuple[Ed25519PublicKey | bytes, str] | None:
        """Raw 32-byte Ed25519 key and its status (``active``/``retired``), ``None`` if unknown."""

    def series(self, series_id: int) -> SeriesRule | None: ...

    def code_status(self, ref: str) -> str | None:
        """``issued``, ``revoked``, ``blocked``, ``annulled`` or ``None`` when not listed."""

    def shared_series(self, code: str) -> int | None: ...

    def imported_series(self, digest: str) -> int | None: ...

    def used(self, ref: str) -> Usage | None:
        """The hub's view of the ticket's use when the replica was taken."""


class LocalHistory(Protocol):
    """What the decision reads from the gate's own journal."""

    def usage(self, ref: str) -> Usage | None:
        """This gate's admissions of ``ref`` that the replica may not know about yet."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What a provider decided; ``offline`` says whether the hub was asked."""

    result: Result
    reason: Reason
    ticket_ref: str | None = None
    series: int | None = None
    offline: bool = True
    first_used_at: datetime | None = None
    first_gate: str | None = None
    kind: str | None = None
    redemption_id: int | None = None

    @property
    def admitted(self) -> bool:
        return self.result is Result.ADMIT


def reject(
    reason: Reason, ref: str | None = None, series: int | None = None, **kw: object
) -> Decision:
    """A rejection; the one place that builds them, so reasons stay from the closed list."""
    return Decision(Result.REJECT, reason, ref, series, **kw)  # type: ignore[arg-type]


def _merge(hub: Usage | None, local: Usage | None) -> Usage:
    """Combine the hub's last known use with this gate's journal.

    The journal counts only admissions the replica may not include (see
    :meth:`gate.journal.Journal.usage`), so adding them never double counts an upload the hub
    already applied by more than the replica's staleness allows.
    """
    if hub is None and local is None:
        return Usage()
    if hub is None:
        return local  # type: ignore[return-value]
    if local is None:
        return hub
    firsts = [(u.first_used_at, u.first_gate) for u in (hub, local) if u.first_used_at is not None]
    first_at, first_gate = min(firsts, key=lambda p: p[0]) if firsts else (None, None)
    return Usage(
        entries=hub.entries + local.entries,
        inside=local.inside if local.entries or local.inside else hub.inside,
        first_used_at=first_at,
        first_gate=first_gate,
    )


def _resolve(
    scanned: ScannedCode, replica: ReplicaView, allow_serial_entry: bool
) -> tuple[str, SeriesRule] | Decision:
    """Find the ticket reference and series of a code, or the rejection that ends the matter."""
    if scanned.kind is CodeKind.GENERATED:
        g = scanned.generated
        assert g is not None
        key = replica.public_key(g.key_id)
        if key is None:
            return reject(Reason.INVALID)
        try:
            verify_signature(g, key[0])
        except CodeError:
            return reject(Reason.INVALID)
        if key[1] != "active":
            return reject(Reason.REVOKED, g.ref, g.series_id)
        rule = replica.series(g.series_id)
        if rule is None:
            return reject(Reason.UNKNOWN_SERIES, g.ref, g.series_id)
        if g.serial >= rule.issue_limit:
            return reject(Reason.INVALID, g.ref, g.series_id)
        return g.ref, rule
    if scanned.kind is CodeKind.SERIAL:
        s = scanned.short
        assert s is not None
        if not allow_serial_entry:
            return reject(Reason.INVALID)
        rule = replica.series(s.series_id)
        if rule is None:
            return reject(Reason.UNKNOWN_SERIES, s.ref, s.series_id)
        if s.serial >= rule.issue_limit:
            return reject(Reason.INVALID, s.ref, s.series_id)
        if s.serial >= rule.issued_count:
            return reject(Reason.INVALID, s.ref, s.series_id)
        return s.ref, rule
    shared = replica.shared_series(scanned.text)
    if shared is not None:
        ref = f"shared:{shared}"
    else:
        digest = imported_hash(replica.hash_salt, scanned.text)
        found = replica.imported_series(digest)
        if found is None:
            return reject(Reason.INVALID)
        ref, shared = f"h:{digest}", found
    rule = replica.series(shared)
    if rule is None:
        return reject(Reason.UNKNOWN_SERIES, ref, shared)
    return ref, rule


def decide(
    scanned: ScannedCode,
    replica: ReplicaView,
    history: LocalHistory,
    direction: str,
    now: datetime,
    *,
    allow_serial_entry: bool = False,
) -> Decision:
    """Decide a scan without the hub, by the hub's rules (``hub/decision.py``).

    Entry rules: ``single`` counts every ``in`` against ``entries_per_code`` and always lets
    ``out`` through; ``reentry`` uses the ticket on the first ``in`` and lets the holder back in
    after an ``out``; ``antipassback`` makes ``in`` and ``out`` alternate and counts every ``in``.
    A shared code counts every ``in`` against the series' issue limit (``capacity``). Exits are
    never refused for validity: nobody is locked in when a ticket expires.

    Args:
        scanned: The classified code (see :func:`venue.codes.classify`).
        replica: The gate's local copy of the hub's rules.
        history: The gate's own journal, for uses the replica does not know yet.
        direction: ``in`` or ``out``.
        now: Scan time from the injected clock (validity windows are checked against it).
        allow_serial_entry: Whether typed short serials are accepted at this gate.

    Returns:
        A :class:`Decision` with ``offline=True``.
    """
    found = _resolve(scanned, replica, allow_serial_entry)
    if isinstance(found, Decision):
        return found
    ref, rule = found
    kw: dict[str, object] = {"kind": rule.kind}
    status = replica.code_status(ref)
    if status in ("revoked", "annulled"):
        return reject(Reason.REVOKED, ref, rule.id, **kw)
    if status == "blocked" or not rule.active:
        return reject(Reason.BLOCKED, ref, rule.id, **kw)
    use = _merge(replica.used(ref), history.usage(ref))
    kw.update(first_used_at=use.first_used_at, first_gate=use.first_gate)
    shared = ref.startswith("shared:")
    if direction == "out":
        if rule.entry_rule != "single" and not shared and not use.inside:
            return reject(Reason.WRONG_DIRECTION, ref, rule.id, **kw)
        return Decision(Result.ADMIT, Reason.OK, ref, rule.id, **kw)  # type: ignore[arg-type]
    g = scanned.generated
    starts = [t for t in (rule.valid_from, g.valid_from if g else None) if t is not None]
    ends = [t for t in (rule.valid_until, g.valid_until if g else None) if t is not None]
    if starts and now < max(starts):
        return reject(Reason.NOT_YET_VALID, ref, rule.id, **kw)
    if ends and now >= min(ends):
        return reject(Reason.EXPIRED, ref, rule.id, **kw)
    if shared:
        if use.entries >= rule.issue_limit:
            return reject(Reason.CAPACITY, ref, rule.id, **kw)
        return Decision(Result.ADMIT, Reason.OK, ref, rule.id, **kw)  # type: ignore[arg-type]
    if rule.entry_rule in ("reentry", "antipassback") and use.inside:
        return reject(Reason.ALREADY_USED, ref, rule.id, **kw)
    if rule.entry_rule == "reentry" and use.entries > 0:
        return Decision(Result.ADMIT, Reason.OK, ref, rule.id, **kw)  # type: ignore[arg-type]
    if use.entries >= rule.entries_per_code:
        return reject(Reason.ALREADY_USED, ref, rule.id, **kw)
    return Decision(Result.ADMIT, Reason.OK, ref, rule.id, **kw)  # type: ignore[arg-type]


def classify_or_reject(text: str) -> ScannedCode | Decision:
    """Classify scanned text; garbage becomes an ``invalid`` rejection instead of an exception."""
    try:
        return classify(text)
    except CodeError:
        return reject(Reason.INVALID)
