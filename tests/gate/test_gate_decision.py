"""The pure offline decision, over a real SQLite replica store and journal."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gatekit import T0, Issuer, after

from gate.decision import Decision, classify_or_reject, decide
from gate.journal import DONE, Entry, Journal, JournalHistory
from gate.replica import ReplicaStore
from venue.codes import short_serial
from venue.messages import rfc3339
from venue.reasons import Reason, Result


@pytest.fixture
def world(tmp_path: Path, issuer: Issuer):
    store = ReplicaStore(tmp_path / "replica.db")
    store.apply(issuer.replica())
    journal = Journal(tmp_path / "journal.db")
    history = JournalHistory(journal, store, "g1")
    yield store, journal, history
    store.close()
    journal.close()


def _decide(world, text: str, direction: str = "in", now=T0, **kw) -> Decision:
    store, _, history = world
    scanned = classify_or_reject(text)
    if isinstance(scanned, Decision):
        return scanned
    return decide(scanned, store, history, direction, now, **kw)


def _admit_locally(journal: Journal, ref: str, direction: str = "in", at=T0) -> None:
    journal.record(
        Entry(
            nonce=f"n-{ref}-{at.timestamp()}-{direction}",
            scanned_at=rfc3339(at),
            source="stdin",
            direction=direction,
            result="admit",
            reason="ok",
            offline=True,
            ref=ref,
            series=int(ref.split(":")[0]),
            state=DONE,
        )
    )


def test_valid_generated_code_is_admitted_offline(world, issuer: Issuer) -> None:
    d = _decide(world, issuer.code(7, 1))
    assert (d.result, d.reason, d.ticket_ref, d.series, d.offline) == (
        Result.ADMIT, Reason.OK, "7:1", 7, True
    )


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", Reason.INVALID),
        ("hello world", Reason.INVALID),
        ("\x00\x01binary", Reason.INVALID),
        ("x" * 10_000, Reason.INVALID),
        ("7-1-0", Reason.INVALID),  # wrong check digit or serial entry not allowed
    ],
)
def test_garbage_is_invalid(world, text: str, reason: Reason) -> None:
    d = _decide(world, text)
    assert (d.result, d.reason, d.ticket_ref) == (Result.REJECT, reason, None)


def test_forged_signature_and_unknown_key_are_invalid(world, issuer: Issuer) -> None:
    other = Issuer()
    assert _decide(world, other.code(7, 1)).reason is Reason.INVALID
    other.key_id = 99
    assert _decide(world, other.code(7, 1)).reason is Reason.INVALID


def test_series_rules(world, issuer: Issuer) -> None:
    assert _decide(world, issuer.code(99, 1)).reason is Reason.UNKNOWN_SERIES
    assert _decide(world, issuer.code(7, 2)).reason is Reason.REVOKED
    assert _decide(world, issuer.code(7, 1000)).reason is Reason.INVALID  # beyond the issue limit
    assert _decide(world, issuer.code(11, 1)).reason is Reason.EXPIRED
    assert _decide(world, issuer.code(12, 1)).reason is Reason.NOT_YET_VALID
    assert _decide(world, issuer.code(12, 1), now=after(40 * 86400)).reason is Reason.OK
    code_expiry = issuer.code(7, 3, valid_until=T0 + timedelta(seconds=1))
    assert _decide(world, code_expiry).reason is Reason.OK
    assert _decide(world, code_expiry, now=after(2)).reason is Reason.EXPIRED


def test_blocked_code_and_inactive_series(world, issuer: Issuer) -> None:
    store, _, _ = world
    store.apply(
        {
            **issuer.replica(full=False, codes=[{"ref": "7:5", "status": "blocked"}]),
            "series": [*issuer.replica()["series"][1:], {**issuer.replica()["series"][0],
                                                         "active": False}],
        }
    )
    assert _decide(world, issuer.code(7, 5)).reason is Reason.BLOCKED
    assert _decide(world, issuer.code(7, 6)).reason is Reason.BLOCKED


def test_already_used_by_own_journal_with_first_use_time(world, issuer: Issuer) -> None:
    _, journal, _ = world
    _admit_locally(journal, "7:1", at=after(3600))
    d = _decide(world, issuer.code(7, 1), now=after(3700))
    assert (d.result, d.reason) == (Result.REJECT, Reason.ALREADY_USED)
    assert d.first_used_at == after(3600)
    assert d.first_gate == "g1"


def test_already_used_elsewhere_per_replica(world, issuer: Issuer) -> None:
    store, _, _ = world
    store.apply(
        issuer.replica(
            full=False,
            used=[{"ref": "7:4", "entries": 1, "inside": True,
                   "first_used_at": "2026-01-01T10:00:00Z", "first_gate": "g2"}],
        )
    )
    d = _decide(world, issuer.code(7, 4))
    assert d.first_used_at is not None
    assert (d.reason, d.first_gate, rfc3339(d.first_used_at)) == (
        Reason.ALREADY_USED, "g2", "2026-01-01T10:00:00.000Z"
    )


def test_journal_admission_before_replica_time_still_counts(world, issuer: Issuer) -> None:
    """An offline admission the replica does not list yet (upload pending) must still count."""
    _, journal, _ = world
    _admit_locally(journal, "7:1", at=after(-7200))  # before the replica's hub_time
    assert _decide(world, issuer.code(7, 1)).reason is Reason.ALREADY_USED


def test_directions_and_entry_rules(world, issuer: Issuer) -> None:
    _, journal, _ = world
    assert _decide(world, issuer.code(7, 1), "out").reason is Reason.OK  # single: exits pass
    # anti-passback: in, in again refused, out, in again allowed
    code = issuer.code(10, 1)
    assert _decide(world, code, "out").reason is Reason.WRONG_DIRECTION
    assert _decide(world, code, "in").reason is Reason.OK
    _admit_locally(journal, "10:1", "in", after(3600))
    assert _decide(world, code, "in", after(3601)).reason is Reason.ALREADY_USED
    assert _decide(world, code, "out", after(3601)).reason is Reason.OK
    _admit_locally(journal, "10:1", "out", after(3602))
    assert _decide(world, code, "in", after(3603)).reason is Reason.OK
    # re-entry: out needs in first, in while inside refused, back in after out
    code = issuer.code(13, 1)
    assert _decide(world, code, "out").reason is Reason.WRONG_DIRECTION
    _admit_locally(journal, "13:1", "in", after(3600))
    assert _decide(world, code, "in", after(3601)).reason is Reason.ALREADY_USED
    _admit_locally(journal, "13:1", "out", after(3602))
    assert _decide(world, code, "in", after(3603)).reason is Reason.OK
    # exits are never refused for validity
    assert _decide(world, issuer.code(11, 1), "out").reason is Reason.OK


def test_retired_key_is_revoked(world, issuer: Issuer) -> None:
    store, _, _ = world
    body = issuer.replica(full=False)
    body["keys"][0]["status"] = "retired"
    store.apply(body)
    assert _decide(world, issuer.code(7, 1)).reason is Reason.REVOKED


def test_shared_code_capacity(world, issuer: Issuer) -> None:
    store, _, _ = world
    store.apply(issuer.replica(full=False, used=[{"ref": "shared:9", "entries": 1000,
                                                  "inside": True, "first_used_at": None,
                                                  "first_gate": None}]))
    assert _decide(world, "SUMMER24").reason is Reason.CAPACITY


def test_imported_and_shared_codes(world) -> None:
    d = _decide(world, "IMPORTED-1")
    ref = d.ticket_ref or ""
    assert d.result is Result.ADMIT and ref.startswith("h:") and d.series == 8
    assert "IMPORTED" not in ref
    assert _decide(world, "IMPORTED-2").reason is Reason.INVALID
    d = _decide(world, "SUMMER24")
    assert (d.result, d.ticket_ref) == (Result.ADMIT, "shared:9")


def test_short_serial_only_where_allowed(world) -> None:
    text = short_serial(7, 1)
    assert _decide(world, text).reason is Reason.INVALID
    assert _decide(world, text, allow_serial_entry=True).reason is Reason.OK
    assert _decide(world, short_serial(7, 150), allow_serial_entry=True).reason is Reason.INVALID


def test_journal_prune_keeps_what_is_still_owed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    base: dict[str, Any] = dict(source="stdin", direction="in", result="admit", reason="ok",
                                offline=True, ref="7:1", series=7)
    j.record(Entry(nonce="old-done", scanned_at="2026-01-01T10:00:00.000Z", state=DONE,
                   scan_queued=True, passage_event_id="p1", passage_queued=True, **base))
    j.record(Entry(nonce="old-unsent", scanned_at="2026-01-01T10:00:01.000Z", state=DONE,
                   scan_queued=False, **base))
    j.record(Entry(nonce="old-annul", scanned_at="2026-01-01T10:00:02.000Z", state=DONE,
                   scan_queued=True, hub_annul_pending=True, **base))
    j.record(Entry(nonce="new", scanned_at="2026-03-01T10:00:00.000Z", state=DONE,
                   scan_queued=True, **base))
    assert j.prune("2026-02-01T00:00:00.000Z") == 1
    assert [e.nonce for e in j.all()] == ["old-unsent", "old-annul", "new"]
    j.close()
