"""Identify rate limits live in the database: two hub "replicas" (two engines on one database)
share one counter, racing hits never grant more than the limit, and ended windows are pruned."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hubkit import make_db
from sqlalchemy import func, select

from hub.db import Database
from hub.loyalty.limit_models import RateWindow
from hub.loyalty.limits import WindowLimiter, window_start
from venue.clock import FakeClock


@pytest.fixture
def two(db_url: str, clock: FakeClock) -> Iterator[tuple[Database, Database]]:
    a = make_db(db_url, clock)
    b = Database.connect(db_url)
    yield a, b
    a.dispose()
    b.dispose()


def test_window_start_is_aligned_and_the_same_for_every_replica() -> None:
    t = datetime(2026, 1, 1, 12, 0, 59, 999000, tzinfo=UTC)
    assert window_start(t, 60) == int(datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp())
    assert window_start(t.replace(second=0, microsecond=0), 60) == window_start(t, 60)
    with pytest.raises(ValueError):
        WindowLimiter(1, 0, db=None, scope="x", clock=FakeClock())  # type: ignore[arg-type]


def test_replicas_share_one_counter(two: tuple[Database, Database], clock: FakeClock) -> None:
    a, b = two
    la = WindowLimiter(3, 60, db=a, scope="identify_phone", clock=clock)
    lb = WindowLimiter(3, 60, db=b, scope="identify_phone", clock=clock)
    other = WindowLimiter(3, 60, db=b, scope="identify_device", clock=clock)
    assert [la.hit("p1"), lb.hit("p1"), la.hit("p1")] == [True, True, True]
    assert lb.hit("p1") is False and la.hit("p1") is False  # refused hits are not counted
    assert lb.hit("p2") is True and other.hit("p1") is True  # other key, other scope
    with a.read() as s:
        assert s.scalar(select(RateWindow.hits).where(RateWindow.key == "p1")) == 3
    clock.advance(60)
    assert lb.hit("p1") is True
    with a.read() as s:  # the ended window was pruned by the first hit of the new one
        starts = set(s.scalars(select(RateWindow.window_start)
                               .where(RateWindow.scope == "identify_phone")))
    assert starts == {window_start(clock.now(), 60)}
    assert WindowLimiter(0, 60, db=a, scope="off", clock=clock).hit("p1") is True


def test_racing_hits_from_two_replicas_grant_exactly_the_limit(
        two: tuple[Database, Database], clock: FakeClock) -> None:
    a, b = two
    limiters = [WindowLimiter(5, 60, db=d, scope="identify_device", clock=clock) for d in (a, b)]
    results: list[bool] = []
    lock = threading.Lock()
    go = threading.Barrier(16)

    def run(i: int) -> None:
        go.wait()
        ok = limiters[i % 2].hit("kiosk-1")
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False] * 11 + [True] * 5
    with a.read() as s:
        assert s.scalar(select(func.sum(RateWindow.hits))) == 5
