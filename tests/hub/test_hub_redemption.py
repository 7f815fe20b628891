"""Exactly-once redemption, on SQLite and PostgreSQL, through the real HTTP app and the service."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hubkit import token

from hub import issuing, keys
from hub.api.app import create_app
from hub.db import Database
from hub.models import Redemption, SigningKey
from hub.redemption import RedemptionRequest, redeem_once
from hub.series import CodeMode, EntryRule, SeriesSpec, create_series
from venue import codes
from venue.clock import FakeClock
from venue.reasons import Reason, Result


def new_series(db: Database, clock: FakeClock, count: int = 1, **kw: Any) -> list[str]:
    with db.write() as s:
        series = create_series(s, SeriesSpec(name=kw.pop("name", "Show"), **kw), now=clock.now())
        if count and series.code_mode != CodeMode.IMPORTED:
            return [c.code for c in issuing.issue(s, series.id, count=count, now=clock.now())]
    return []


def req(code: str, gate: str = "g1", **kw: Any) -> RedemptionRequest:
    return RedemptionRequest(code=code, gate=gate, direction=kw.pop("direction", "in"),
                             nonce=kw.pop("nonce", str(uuid.uuid4())), device=gate, **kw)


def test_100_concurrent_redeems_over_http_admit_exactly_once(
    any_db: Database, clock: FakeClock, live_factory: Any
) -> None:
    (code,) = new_series(any_db, clock)
    gates = [f"g{i % 4}" for i in range(100)]
    headers = {g: token(any_db, clock, "gate", g) for g in set(gates)}
    server = live_factory(create_app(any_db, clock=clock))
    answers: list[dict[str, Any]] = []
    start = threading.Barrier(100)
    lock = threading.Lock()

    def one(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            start.wait()
            clock.advance(0.001)  # every request at its own hub time
            r = http.post("/api/v1/redemptions", headers=headers[gates[i]],
                          json={"code": code, "gate": gates[i], "nonce": str(uuid.uuid4())})
            assert r.status_code == 200, r.text
            with lock:
                answers.append(r.json())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 100
    outcome = Counter((a["result"], a["reason"]) for a in answers)
    assert outcome == {("admit", "ok"): 1, ("reject", "already_used"): 99}
    (admitted,) = [a for a in answers if a["result"] == "admit"]
    for a in answers:
        assert a["first_used_at"] == admitted["first_used_at"]
        assert a["first_gate"] == admitted["first_gate"]
    with any_db.read() as s:
        rows = s.query(Redemption).all()
        assert len(rows) == 100  # every attempt stored, rejections included
        assert sum(r.counted for r in rows) == 1


def test_concurrent_service_calls_with_separate_sessions(
    any_db: Database, clock: FakeClock
) -> None:
    """The service function alone, 50 threads, a 2-entry pass: exactly two admissions."""
    (code,) = new_series(any_db, clock, entries_per_code=2)
    results: list[str] = []
    barrier = threading.Barrier(50)

    def one(i: int) -> None:
        barrier.wait()
        results.append(redeem_once(any_db, req(code, f"g{i % 3}"), clock=clock).result)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert Counter(results) == {Result.ADMIT: 2, Result.REJECT: 48}


def test_repeated_nonce_returns_the_first_answer(any_db: Database, clock: FakeClock) -> None:
    (code,) = new_series(any_db, clock)
    first = redeem_once(any_db, req(code, nonce="n-1"), clock=clock)
    clock.advance(5)
    again = redeem_once(any_db, req(code, nonce="n-1"), clock=clock)
    other = redeem_once(any_db, req(code, nonce="n-2"), clock=clock)
    assert first.result == Result.ADMIT and again == first
    assert other.reason == Reason.ALREADY_USED
    with any_db.read() as s:
        assert s.query(Redemption).count() == 2


def test_check_mode_answers_without_redeeming(db: Database, clock: FakeClock) -> None:
    (code,) = new_series(db, clock)
    checked = redeem_once(db, req(code, mode="check"), clock=clock)
    assert checked.result == Result.ADMIT
    assert redeem_once(db, req(code), clock=clock).result == Result.ADMIT
    assert redeem_once(db, req(code, mode="check"), clock=clock).reason == Reason.ALREADY_USED


def _hub_key(db: Database) -> tuple[int, Any]:
    with db.read() as s:
        k = s.get(SigningKey, 1)
        assert k is not None
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return k.id, Ed25519PrivateKey.from_private_bytes(k.private_key)


def test_each_bad_code_is_rejected_with_its_reason(db: Database, clock: FakeClock) -> None:
    t0 = clock.now()
    (good,) = new_series(db, clock, issue_limit=5)  # series 1
    # Tampered by one character (in the signed payload, and in the signature).
    for pos in (20, 120):
        bad = good[:pos] + ("A" if good[pos] != "A" else "B") + good[pos + 1 :]
        a = redeem_once(db, req(bad), clock=clock)
        assert (a.result, a.reason) == (Result.REJECT, Reason.INVALID), a
        assert a.ticket is None
    # Signed by a key the hub does not know.
    stranger = codes.sign_code(codes.new_private_key(), key_id=77, series_id=1, serial=0)
    a = redeem_once(db, req(stranger), clock=clock)
    assert (a.reason, a.detail) == (Reason.INVALID, "signed by unknown key 77")
    # Signed by the hub's own key but a serial at the issue limit: nobody may mint more.
    key_id, key = _hub_key(db)
    minted = codes.sign_code(key, key_id=key_id, series_id=1, serial=5)
    a = redeem_once(db, req(minted), clock=clock)
    assert a.reason == Reason.INVALID and "issue limit" in a.detail
    # An unknown series.
    a = redeem_once(db, req(codes.sign_code(key, key_id=key_id, series_id=99, serial=0)),
                    clock=clock)
    assert a.reason == Reason.UNKNOWN_SERIES
    # Outside the validity window, judged on the hub's clock.
    (later,) = new_series(db, clock, name="Later", valid_from=t0 + timedelta(days=1),
                          valid_until=t0 + timedelta(days=2))
    assert redeem_once(db, req(later), clock=clock).reason == Reason.NOT_YET_VALID
    clock.advance(3 * 86400)
    assert redeem_once(db, req(later), clock=clock).reason == Reason.EXPIRED
    # Signed by a retired key (after rotation, the old key is retired).
    with db.write() as s:
        keys.create_key(s, now=clock.now())
        keys.retire(s, 1, now=clock.now())
    a = redeem_once(db, req(good), clock=clock)
    assert (a.reason, a.detail) == (Reason.REVOKED, "signed by retired key 1")
    (fresh,) = new_series(db, clock, name="New key")
    assert redeem_once(db, req(fresh), clock=clock).result == Result.ADMIT
    # Garbage.
    for junk in ("", "   ", "x" * 600, "abc\x00def", "7-42-0"):
        assert redeem_once(db, req(junk, allow_serial=True), clock=clock).reason == Reason.INVALID


def test_revoke_block_unblock(db: Database, clock: FakeClock) -> None:
    c1, c2 = new_series(db, clock, count=2)
    with db.write() as s:
        issuing.change_status(s, "1:0", "revoke", now=clock.now())
        issuing.change_status(s, "1-1-6", "block", now=clock.now())
    assert redeem_once(db, req(c1), clock=clock).reason == Reason.REVOKED
    assert redeem_once(db, req(c2), clock=clock).reason == Reason.BLOCKED
    with db.write() as s:
        issuing.change_status(s, "1:1", "unblock", now=clock.now())
        with pytest.raises(issuing.IssueError):
            issuing.change_status(s, "1:0", "unblock", now=clock.now())
    assert redeem_once(db, req(c2), clock=clock).result == Result.ADMIT


def test_entry_rules(db: Database, clock: FakeClock) -> None:
    (re_,) = new_series(db, clock, name="Re", entry_rule=EntryRule.REENTRY)
    (apb,) = new_series(db, clock, name="APB", entry_rule=EntryRule.ANTIPASSBACK,
                        entries_per_code=2)
    (pass3,) = new_series(db, clock, name="Pass", entries_per_code=3)

    def go(code: str, direction: str) -> Reason:
        return redeem_once(db, req(code, direction=direction), clock=clock).reason

    assert go(re_, "out") == Reason.WRONG_DIRECTION
    assert [go(re_, d) for d in ("in", "in", "out", "in", "in")] == [
        Reason.OK, Reason.ALREADY_USED, Reason.OK, Reason.OK, Reason.ALREADY_USED]
    assert [go(apb, d) for d in ("in", "in", "out", "out", "in", "out", "in")] == [
        Reason.OK, Reason.ALREADY_USED, Reason.OK, Reason.WRONG_DIRECTION, Reason.OK, Reason.OK,
        Reason.ALREADY_USED]
    assert [go(pass3, "in") for _ in range(4)] == [Reason.OK] * 3 + [Reason.ALREADY_USED]
    a = redeem_once(db, req(pass3, direction="out"), clock=clock)
    assert a.result == Result.ADMIT and a.ticket is not None and a.ticket.entries_left == 0


def test_shared_code_capacity_is_the_issue_limit(db: Database, clock: FakeClock) -> None:
    new_series(db, clock, count=0, name="Magazine", code_mode=CodeMode.SHARED,
               shared_code="SUMMER24", issue_limit=3)
    got = [redeem_once(db, req(" SUMMER24 "), clock=clock).reason for _ in range(4)]
    assert got == [Reason.OK] * 3 + [Reason.CAPACITY]
    assert redeem_once(db, req("SUMMER25"), clock=clock).reason == Reason.INVALID


def test_short_serial_only_for_staff_or_allowed_gates(
    db: Database, clock: FakeClock, client: Any
) -> None:
    new_series(db, clock, count=1)
    short = codes.short_serial(1, 0)
    body = {"code": short, "gate": "g1", "nonce": "s1"}
    gate = token(db, clock, "gate", "g1")
    r = client.post("/api/v1/redemptions", json=body, headers=gate)
    assert (r.json()["reason"], r.json()["ticket"]) == ("invalid", None)
    allowed = token(db, clock, "gate", "g1", allow_serial_entry=True)
    r = client.post("/api/v1/redemptions", json={**body, "nonce": "s2"}, headers=allowed)
    assert r.json()["result"] == "admit"
    steward = token(db, clock, "validator", "phone7")
    r = client.post("/api/v1/redemptions", json={**body, "nonce": "s3"}, headers=steward)
    assert r.json()["reason"] == "already_used" and r.json()["first_gate"] == "g1"


def test_annul_within_the_window_only(db: Database, clock: FakeClock, client: Any) -> None:
    c1, c2 = new_series(db, clock, count=2)
    gate = token(db, clock, "gate", "g1")
    r = client.post("/api/v1/redemptions", json={"code": c1, "gate": "g1", "nonce": "a1"},
                    headers=gate)
    assert r.json()["result"] == "admit"
    clock.advance(30)
    r = client.post("/api/v1/redemptions/a1/annul", json={"reason": "no_passage"}, headers=gate)
    assert r.status_code == 200 and r.json() == {"annulled": True}
    r = client.post("/api/v1/redemptions", json={"code": c1, "gate": "g1", "nonce": "a2"},
                    headers=gate)
    assert r.json()["result"] == "admit"  # the entry was given back
    client.post("/api/v1/redemptions", json={"code": c2, "gate": "g1", "nonce": "a3"},
                headers=gate)
    clock.advance(61)
    r = client.post("/api/v1/redemptions/a3/annul", headers=gate)
    assert r.status_code == 409 and "window" in r.json()["detail"]
    assert client.post("/api/v1/redemptions/nope/annul", headers=gate).status_code == 404
    other = token(db, clock, "gate", "g2")
    assert client.post("/api/v1/redemptions/a2/annul", headers=other).status_code == 403


def test_first_use_time_is_the_scan_time(db: Database, clock: FakeClock) -> None:
    (code,) = new_series(db, clock)
    scanned = clock.now() - timedelta(seconds=2)
    a = redeem_once(db, req(code, "g7", scanned_at=scanned), clock=clock)
    assert a.first_used_at == scanned and a.first_gate == "g7"
    future = clock.now() + timedelta(hours=1)  # a gate with a wrong clock cannot post-date
    b = redeem_once(db, req(code, "g8", scanned_at=future), clock=clock)
    assert b.first_used_at == scanned


def test_database_errors_surface_as_sqlalchemy_errors(db: Database, clock: FakeClock) -> None:
    """The plain-SQL hot path raises what SQLAlchemy would (so outages are retried / 503)."""
    from sqlalchemy.exc import OperationalError

    from hub.sql import sql_for

    with db.write_connection() as conn, pytest.raises(OperationalError):
        sql_for(conn).run(conn, "SELECT no_such_column FROM codes")
