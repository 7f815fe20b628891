"""Birthday reward, welcome and win-back messages: pure decisions, and the job on SQLite and
PostgreSQL (a birthday run twice the same day credits once; concurrent runs too); the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from loyaltykit import ADMIN_H, ok, register, visit
from walletkit import PHONE_A, link, messages, wallet_app, wallets

from hub.db import Database
from hub.loyalty import ledger
from hub.wallet.triggers import birthday_due, run_triggers, welcome_due, winback_due
from venue.clock import FakeClock

T = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_birthday_decisions() -> None:
    assert birthday_due(3, 1, date(2026, 3, 1), has_reward=True).period == "2026"
    assert birthday_due(3, 1, date(2026, 3, 2), has_reward=True).reason == "not_today"
    assert birthday_due(None, None, date(2026, 3, 1), has_reward=True).reason == "no_birthday"
    assert birthday_due(3, 1, date(2026, 3, 1), has_reward=False).reason == "no_rule"
    # 29 February: the 28th in a common year, the 29th in a leap year
    assert birthday_due(2, 29, date(2027, 2, 28), has_reward=True).due
    assert not birthday_due(2, 29, date(2028, 2, 28), has_reward=True).due
    assert birthday_due(2, 29, date(2028, 2, 29), has_reward=True).period == "2028"


def test_welcome_and_winback_decisions() -> None:
    assert welcome_due(T, T + timedelta(hours=1), text="Hi").period == "once"
    assert welcome_due(T, T, text=" ").reason == "no_rule"
    assert welcome_due(T - timedelta(days=3), T, text="Hi").reason == "joined_before"
    due = winback_due(T - timedelta(days=30), T, days=30, text="Miss you")
    assert due.due and due.period == "2026-01-30T09:00:00.000Z"
    assert winback_due(T - timedelta(days=29), T, days=30, text="x").reason == "visited_recently"
    assert winback_due(None, T, days=30, text="x").reason == "never_visited"
    assert winback_due(T, T, days=0, text="x").reason == "no_rule"


def _rules(c: TestClient, business: int, **kw: object) -> None:
    ok(c.put(f"/api/v1/businesses/{business}/wallet-rules", json=kw, headers=ADMIN_H))


def test_birthday_run_twice_the_same_day_credits_once(client: TestClient, db: Database,
                                                      clock: FakeClock) -> None:
    clock.set(T)
    w = wallets(client, visit_points=0)
    _rules(client, w.s.business, birthday_points=100, birthday_series=w.s.series,
           birthday_text="Happy birthday from {business}: {points} points")
    ok(client.post(f"{link(client, w.a)}/birthday", json={"month": 3, "day": 1}))
    ok(client.post(f"{link(client, w.b)}/birthday", json={"month": 3, "day": 2}))
    first = run_triggers(db, now=clock.now())
    assert first.birthdays == 1 and not first.errors
    clock.advance(3600)  # a restart later the same day
    again = run_triggers(db, now=clock.now())
    assert again.birthdays == 0 and again.skipped == 1
    with db.read() as s:
        assert ledger.derived_points(s, w.s.business, w.a) == 100
        assert ledger.derived_points(s, w.s.business, w.b) == 0
    assert messages(db, w.a, "birthday") == ["Happy birthday from Cafe: 100 points"]
    page = client.get(link(client, w.a)).text
    assert "Free coffee" in page and "birthday" in page  # the coupon and the ledger row
    # B's day; then A's next birthday, a year on
    clock.advance(24 * 3600)
    assert run_triggers(db, now=clock.now()).birthdays == 1
    clock.set(datetime(2027, 3, 1, 10, 0, tzinfo=UTC))
    assert run_triggers(db, now=clock.now()).birthdays == 1
    with db.read() as s:
        assert ledger.derived_points(s, w.s.business, w.a) == 200
    # a birthday that is no day is refused, naming the field
    r = client.post(f"{link(client, w.a)}/birthday", json={"month": 2, "day": 30})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "day"
    r = client.post(f"{link(client, w.a)}/birthday", json={"month": 13, "day": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "month"


def test_concurrent_runs_credit_once(client: TestClient, db: Database,
                                     clock: FakeClock) -> None:
    clock.set(T)
    w = wallets(client)
    _rules(client, w.s.business, birthday_points=50, welcome_text="Welcome!")
    ok(client.post(f"{link(client, w.a)}/birthday", json={"month": 3, "day": 1}))
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda _: run_triggers(db, now=clock.now()), range(4)))
    assert sum(r.birthdays for r in reports) == 1
    assert sum(r.welcomes for r in reports) == 2  # A and B, once each
    with db.read() as s:
        assert ledger.derived_points(s, w.s.business, w.a) == 50
    assert len(messages(db, w.a, "birthday")) == 1 and len(messages(db, w.a, "welcome")) == 1


def test_welcome_once_and_winback_once_per_absence(client: TestClient, db: Database,
                                                   clock: FakeClock) -> None:
    clock.set(T)
    w = wallets(client, visit_points=10, cooldown_s=0)
    _rules(client, w.s.business, welcome_text="Welcome to {business}",
           winback_days=30, winback_text="We miss you at {business}")
    assert run_triggers(db, now=clock.now()).welcomes == 2
    assert run_triggers(db, now=clock.now()).welcomes == 0
    assert messages(db, w.a, "welcome") == ["Welcome to Cafe"]
    ok(visit(client, w.s, w.a))
    clock.advance(29 * 86400)
    assert run_triggers(db, now=clock.now()).winbacks == 0
    clock.advance(86400)
    assert run_triggers(db, now=clock.now()).winbacks == 1  # A; B never visited
    clock.advance(86400)
    assert run_triggers(db, now=clock.now()).winbacks == 0
    ok(visit(client, w.s, w.a))
    clock.advance(31 * 86400)
    assert run_triggers(db, now=clock.now()).winbacks == 1
    assert messages(db, w.a, "winback") == ["We miss you at Cafe"] * 2
    # a customer who joins long after the rule was set is welcomed too, once
    c = register(client, w.s, "+380673334455")["customer"]
    assert run_triggers(db, now=clock.now()).welcomes == 1
    assert len(messages(db, c, "welcome")) == 1


def test_rules_api(client: TestClient) -> None:
    w = wallets(client)
    op = ok(client.post("/api/v1/tokens", json={"role": "operator", "device": "op1"},
                        headers=ADMIN_H), 201)["token"]
    h = {"Authorization": f"Bearer {op}"}
    ok(client.put(f"/api/v1/businesses/{w.s.business}/wallet-rules",
                  json={"referrer_points": 5}, headers=h))
    got = ok(client.get(f"/api/v1/businesses/{w.s.business}/wallet-rules", headers=h))
    assert got["referrer_points"] == 5 and got["birthday_points"] == 0
    assert client.put(f"/api/v1/businesses/{w.s.business}/wallet-rules",
                      json={"referrer_points": -1}, headers=h).status_code == 422
    assert client.put("/api/v1/businesses/999/wallet-rules", json={},
                      headers=h).status_code == 404
    assert client.put(f"/api/v1/businesses/{w.s.business}/wallet-rules",
                      json={"birthday_series": 999}, headers=h).status_code == 404
    assert client.put(f"/api/v1/businesses/{w.s.business}/wallet-rules", json={},
                      headers=w.s.kiosk_h).status_code == 403


def test_cli_run_triggers(tmp_path: Path, clock: FakeClock) -> None:
    """``venue hub run-triggers`` (for cron) on a hub's SQLite file: prints what it did."""
    from hubkit import make_db

    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    today = datetime.now(UTC)
    clock.set(today - timedelta(hours=1))
    db = make_db(url, clock)
    try:
        with TestClient(wallet_app(db, clock)) as c:
            w = wallets(c)
            _rules(c, w.s.business, birthday_points=7)
            ok(c.post(f"{link(c, w.a)}/birthday",
                      json={"month": today.month, "day": today.day}))
    finally:
        db.dispose()
    venue = os.path.join(os.path.dirname(sys.executable), "venue")
    env = {**os.environ, "VENUE_DEVICE__DATA_DIR": str(tmp_path)}
    runs = [subprocess.run([venue, "hub", "--db", url, "run-triggers"], env=env,
                           capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert json.loads(runs[0].stdout)["birthdays"] == 1
    assert json.loads(runs[1].stdout) == {"birthdays": 0, "welcomes": 0, "winbacks": 0,
                                          "skipped": 1, "errors": []}
    assert PHONE_A not in runs[0].stdout + runs[0].stderr


def test_birthday_is_the_day_in_the_venues_time_zone(client: TestClient, db: Database,
                                                     clock: FakeClock) -> None:
    clock.set(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))  # 01:30 on 2 March in Kyiv
    w = wallets(client)
    _rules(client, w.s.business, birthday_points=10)
    ok(client.post(f"{link(client, w.a)}/birthday", json={"month": 3, "day": 2}))
    assert run_triggers(db, now=clock.now()).birthdays == 0
    assert run_triggers(db, now=clock.now(), tz="Europe/Kyiv").birthdays == 1
    assert run_triggers(db, now=clock.now(), tz="Europe/Kyiv").skipped == 1


def test_the_hubs_thread_runs_the_job(client: TestClient, db: Database,
                                      clock: FakeClock) -> None:
    from hubkit import wait_for

    from hub.wallet.triggers import TriggerThread

    clock.set(T)
    w = wallets(client)
    _rules(client, w.s.business, birthday_points=25)
    ok(client.post(f"{link(client, w.a)}/birthday", json={"month": 3, "day": 1}))
    thread = TriggerThread(db, clock=clock, interval_s=0.05).start()
    try:
        def credited() -> bool:
            with db.read() as s:
                return ledger.derived_points(s, w.s.business, w.a) == 25
        wait_for(credited, 20, "the birthday credit")
        wait_for(lambda: len(messages(db, w.a, "birthday")) == 1, 20, "the message")
    finally:
        thread.stop()
    with db.read() as s:
        assert ledger.derived_points(s, w.s.business, w.a) == 25  # many runs, one credit
