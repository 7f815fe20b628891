"""MQTT payloads from devices and the broker: envelopes with one field wrong, any topic.

Covers :meth:`venue.messages.Event.decode` on near-valid envelopes, the operator's view
(:meth:`venue.monitor.VenueView.apply`, which must count, never raise) and the hub's ingest core
(:func:`hub.ingest.ingest_batch` on a real SQLite database: malformed messages are counted and
dropped, the batch is stored, nothing else escapes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from venue.clock import FakeClock
from venue.errors import PayloadError
from venue.messages import Event
from venue.monitor import VenueView

FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)

GOOD = Event.new("s1", "g1", "gate.scan", {"nonce": "n1", "result": "admit", "reason": "ok",
                               "direction": "in", "offline": True,
                               "ticket": {"ref": "1:1", "series": 1},
                               "scanned_at": "2026-01-01T12:00:00Z"},
                 when=datetime(2026, 1, 1, 12, tzinfo=UTC))
FIELDS = ["v", "id", "ts", "site", "device", "type", "data"]
DATA_FIELDS = ["nonce", "result", "reason", "direction", "offline", "ticket", "scanned_at"]
TOPICS = st.one_of(
    st.just("venue/v1/s1/gate/g1/event/gate.scan"),
    st.just("venue/v1/s1/gate/g1/status"),
    st.just("venue/v1/s1/gate/g1/telemetry"),
    st.just("venue/v1/s1/gate/g1/event/gate.passage"),
    st.builds(lambda parts: "/".join(parts),
              st.lists(st.sampled_from(["venue", "v1", "s1", "gate", "g1", "event", "status",
                                        "telemetry", "+", "#", "", "é", "a" * 70]),
                       max_size=9)),
)


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    """A valid envelope with one field (or one data field) replaced, dropped, or added."""
    obj: dict[str, Any] = json.loads(GOOD.encode())
    where = draw(st.sampled_from(["top", "data"]))
    target = obj if where == "top" else obj["data"]
    key = draw(st.sampled_from(FIELDS if where == "top" else DATA_FIELDS) | st.text(max_size=6))
    if draw(st.booleans()):
        target[key] = draw(json_values)
    else:
        target.pop(key, None)
    if draw(st.booleans()):
        obj["type"] = draw(st.sampled_from(["gate.scan", "gate.passage", "beacon.enter"]))
    return json.dumps(obj).encode()


payloads = envelopes() | st.binary(max_size=200) | json_values.map(
    lambda v: json.dumps(v).encode())


@FUZZ
@given(envelopes())
def test_event_decode_near_valid(payload: bytes) -> None:
    try:
        ev = Event.decode(payload)
    except PayloadError:
        return
    assert isinstance(ev.data, dict) and ev.id


@FUZZ
@given(st.lists(st.tuples(TOPICS, payloads), max_size=8))
def test_monitor_view_counts_never_raises(messages: list[tuple[str, bytes]]) -> None:
    view = VenueView()
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    for topic, payload in messages:
        view.apply(topic, payload, now)
    snap = view.snapshot(now)
    json.dumps(snap)  # what `venue monitor --json` prints is always serialisable


@pytest.fixture(scope="module")
def hub_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from hub.db import Database
    from hub.service import bootstrap

    path: Path = tmp_path_factory.mktemp("fuzz-hub") / "hub.sqlite3"
    db = Database.connect(f"sqlite:///{path}")
    bootstrap(db, clock=FakeClock())
    yield db
    db.dispose()


@FUZZ
@given(st.lists(st.tuples(TOPICS, payloads), min_size=1, max_size=6))
def test_hub_ingest_batch_stores_or_counts(hub_db: Any, messages: list[tuple[str, bytes]]
                                           ) -> None:
    from hub.ingest import ingest_batch

    res = ingest_batch(hub_db, messages, clock=FakeClock())
    assert res.stored + res.duplicates + res.malformed + res.statuses <= len(messages) + 1
