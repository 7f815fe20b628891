"""The MQTT contract: topics and payloads round-trip; bad input is a PayloadError with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from venue.errors import PayloadError
from venue.messages import Command, CommandResult, Event, Status, load_json
from venue.topics import DeviceRef, parse_topic, share, site_filter

WHEN = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def test_topics_build_and_parse() -> None:
    ref = DeviceRef("s1", "gate", "g-1")
    assert ref.status() == "venue/v1/s1/gate/g-1/status"
    assert ref.event("gate.scan") == "venue/v1/s1/gate/g-1/event/gate.scan"
    assert ref.cmd("open") == "venue/v1/s1/gate/g-1/cmd/open"
    parsed = parse_topic(ref.event("gate.scan"))
    assert parsed.ref == ref and parsed.kind == "event" and parsed.name == "gate.scan"
    assert parse_topic(ref.cmd_result()).kind == "cmd_result"
    assert site_filter("s1", "gate", "event/#") == "venue/v1/s1/gate/+/event/#"
    assert share("hub", "a/#") == "$share/hub/a/#"


@pytest.mark.parametrize(
    "topic",
    [
        "venue/v1/s1/gate/g1",
        "venue/v2/s1/gate/g1/status",
        "venue/v1/s1/printer/g1/status",
        "venue/v1/s1/gate/g+1/status",
        "venue/v1/s1/gate/g1/event",
        "venue/v1/s1/gate/g1/event/a/b",
        "venue/v1/s1/gate/g1/whatever",
    ],
)
def test_bad_topics(topic: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_topic(topic)
    assert info.value.reason == "bad_topic"


def test_bad_ids_refused() -> None:
    for bad in ("", "a/b", "#", "+", "x" * 65, "-lead"):
        with pytest.raises(ValueError):
            DeviceRef("s1", "gate", bad)


def test_event_round_trip() -> None:
    ev = Event.new("s1", "g1", "gate.scan", {"result": "admit", "n": 1}, when=WHEN)
    back = Event.decode(ev.encode())
    assert back == ev
    assert back.ts == "2026-05-01T12:30:00.000Z"
    assert back.time == WHEN
    assert ev.id != Event.new("s1", "g1", "gate.scan", {}, when=WHEN).id


def test_event_refuses_secrets_in_data() -> None:
    with pytest.raises(ValueError, match="phone"):
        Event.new("s1", "k1", "kiosk.checkin", {"phone": "+380671234567"}, when=WHEN)


def envelope(**changes: object) -> bytes:
    body: dict[str, object] = {
        "v": 1, "id": "x1", "ts": "2026-05-01T12:30:00Z", "site": "s1", "device": "g1",
        "type": "gate.scan", "data": {},
    }
    body.update(changes)
    for k, v in list(body.items()):
        if v is None:
            del body[k]
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not_json"),
        (b"\xff\xfe", "not_utf8"),
        (b"{not json", "not_json"),
        (b"[1,2]", "bad_envelope"),
        (b"x" * 70_000, "too_large"),
        (b'{"v": NaN}', "bad_field"),
        (b"[" * 5000 + b"]" * 5000, "not_json"),
        (envelope(v=2), "bad_version"),
        (envelope(v=True), "bad_field"),
        (envelope(id=None), "missing_field"),
        (envelope(ts="yesterday"), "bad_field"),
        (envelope(ts="2026-05-01T12:30:00"), "bad_field"),
        (envelope(site="a/b"), "bad_field"),
        (envelope(type="Gate Scan"), "bad_field"),
        (envelope(data=[1]), "bad_field"),
    ],
)
def test_bad_events_have_reasons(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        Event.decode(payload)
    assert info.value.reason == reason


@given(st.binary(max_size=300))
def test_event_decode_never_raises_anything_else(data: bytes) -> None:
    try:
        Event.decode(data)
    except PayloadError:
        pass


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c,
                                                                        max_size=3)))
def test_status_and_command_decoders_only_raise_payload_errors(obj: object) -> None:
    raw = json.dumps(obj).encode()
    for decode in (Status.decode, CommandResult.decode, lambda p: Command.decode("open", p)):
        try:
            decode(raw)
        except PayloadError:
            pass


def test_status_command_result_round_trip() -> None:
    st_ = Status("online", "0.1.0", "2026-05-01T12:30:00.000Z", "gate", {"outbox": 3})
    assert Status.decode(st_.encode()) == st_
    cmd = Command("open", {"seconds": 3}, by="alice")
    back = Command.decode("open", cmd.encode())
    assert back.id == cmd.id and back.args == {"seconds": 3} and back.by == "alice"
    res = CommandResult(cmd.id, False, "locked")
    assert CommandResult.decode(res.encode()) == res
    with pytest.raises(PayloadError):
        Status.decode(b'{"state": "sleepy"}')


def test_load_json_limit() -> None:
    assert load_json(b'{"a": 1}') == {"a": 1}
    with pytest.raises(PayloadError):
        load_json(b"[1]", limit=2)
