"""Check providers: budget, known-down, switch back; replica age limits; the replica store.

The "hub" here is a network fault, not a stand-in for the hub's behaviour: a closed port
(refused at once) or a socket that accepts connections and never answers (a hung hub). The
online path against the real hub is covered by test_gate_e2e.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from gatekit import T0, Issuer

from gate.journal import Journal, JournalHistory
from gate.providers import CheckRequest, FallbackProvider, OfflineProvider, OnlineProvider
from gate.replica import ReplicaStore
from venue.clock import FakeClock
from venue.errors import PayloadError
from venue.reasons import Reason, Result


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A listening socket that never accepts: connections open, requests never answered."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def offline(tmp_path: Path, issuer: Issuer) -> Iterator[tuple[OfflineProvider, ReplicaStore]]:
    store = ReplicaStore(tmp_path / "r.db")
    store.apply(issuer.replica())
    journal = Journal(tmp_path / "j.db")
    age: list[float | None] = [0.0]
    p = OfflineProvider(store, JournalHistory(journal, store, "g1"), max_age_s=60.0,
                        age=lambda: age[0])
    p.age_box = age  # type: ignore[attr-defined]
    yield p, store
    store.close()
    journal.close()


def _req(text: str, nonce: str = "n1") -> CheckRequest:
    return CheckRequest(text, "in", nonce, T0)


def test_hung_hub_costs_one_budget_then_none(hung_port: int, offline, issuer: Issuer) -> None:
    p, _ = offline
    clock = FakeClock()
    online = OnlineProvider(f"http://127.0.0.1:{hung_port}", "g1", "tok", budget_s=0.25)
    fb = FallbackProvider(online, p, clock=clock, retry_s=5.0)
    t0 = time.monotonic()
    d = fb.check(_req(issuer.code(7, 1)))
    first = time.monotonic() - t0
    assert (d.result, d.offline) == (Result.ADMIT, True)
    assert 0.2 <= first < 0.25 + 0.2 and fb.is_offline
    t0 = time.monotonic()
    d = fb.check(_req(issuer.code(7, 3), "n2"))
    assert d.offline and time.monotonic() - t0 < 0.05  # known down: no second wait
    clock.advance(6)  # after retry_s the hub is tried again (and still hangs)
    t0 = time.monotonic()
    fb.check(_req(issuer.code(7, 4), "n3"))
    assert time.monotonic() - t0 >= 0.2
    fb.hub_state(True)  # the probe saw the hub answer
    assert not fb.is_offline


def test_refused_connection_goes_offline_at_once(offline, issuer: Issuer) -> None:
    p, _ = offline
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens
    downs: list[int] = []
    fb = FallbackProvider(OnlineProvider(f"http://127.0.0.1:{port}", "g1", None), p,
                          on_down=lambda: downs.append(1))
    t0 = time.monotonic()
    assert fb.check(_req(issuer.code(7, 1))).offline
    assert time.monotonic() - t0 < 0.2 and downs == [1]


def test_garbage_and_unallowed_serials_never_reach_the_hub(hung_port: int, offline) -> None:
    p, _ = offline
    fb = FallbackProvider(OnlineProvider(f"http://127.0.0.1:{hung_port}", "g1", None,
                                         budget_s=5.0), p)
    t0 = time.monotonic()
    assert fb.check(_req("\x00garbage")).reason is Reason.INVALID
    assert fb.check(_req("7-1-9")).reason is Reason.INVALID
    assert time.monotonic() - t0 < 0.5 and not fb.is_offline


def test_stale_replica_fails_closed_or_open(offline, issuer: Issuer) -> None:
    p, _ = offline
    p.age_box[0] = 61.0  # type: ignore[attr-defined]
    d = p.check(_req(issuer.code(7, 1)))
    assert (d.result, d.reason) == (Result.REJECT, Reason.ERROR)
    p.age_box[0] = None  # type: ignore[attr-defined]  # never synced
    assert p.check(_req(issuer.code(7, 1))).reason is Reason.ERROR
    p.fail_open = True
    d = p.check(_req(issuer.code(7, 1)))  # never synced, fail open: admitted
    assert (d.result, d.ticket_ref, d.offline) == (Result.ADMIT, "7:1", True)
    p.age_box[0] = 61.0  # type: ignore[attr-defined]  # old replica, fail open: still checked
    assert p.check(_req(issuer.code(7, 1))).result is Result.ADMIT
    assert p.check(_req(Issuer().code(7, 1))).reason is Reason.INVALID  # forged
    assert p.stale == 5


def test_replica_incremental_persistent_and_atomic(tmp_path: Path, issuer: Issuer) -> None:
    store = ReplicaStore(tmp_path / "r.db")
    assert store.empty
    store.apply(issuer.replica())
    store.apply(issuer.replica(full=False, cursor="c2",
                               codes=[{"ref": "7:9", "status": "blocked"}],
                               imported=[], shared=[]))
    assert store.code_status("7:9") == "blocked" and store.code_status("7:2") == "revoked"
    assert store.shared_series("SUMMER24") == 9  # an incremental answer keeps what it omits
    with pytest.raises(PayloadError):
        store.apply({"cursor": "c3", "keys": [{"key_id": "x"}]})
    store.mark_synced(T0 + timedelta(minutes=1))
    store.close()
    again = ReplicaStore(tmp_path / "r.db")
    assert again.cursor == "c2" and again.code_status("7:9") == "blocked"
    assert again.synced_at == T0 + timedelta(minutes=1)
    again.apply(issuer.replica(cursor="c4", codes=[]))  # full: replaces the lists
    assert again.code_status("7:9") is None
    again.close()
