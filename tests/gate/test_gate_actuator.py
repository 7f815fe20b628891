"""Relay, lights, buzzer and rotation sensor on gpiozero's MockFactory; de-bouncing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from gate.actuator import Turnstile, make_pin_factory
from gate.config import IoSection
from gate.debounce import Debouncer
from venue.clock import FakeClock


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()


def wait_until(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def test_relay_pulses_once_and_rests_off(factory: MockFactory) -> None:
    t = Turnstile(IoSection(pulse_ms=50), pin_factory=factory)
    relay = factory.pin(17)
    assert relay.state is False  # off at start: a rebooting gate never opens by itself
    t.open_once()
    assert wait_until(lambda: len(relay.states) >= 3)
    assert [s.state for s in relay.states[:3]] == [False, True, False]
    assert relay.states[2].timestamp >= 0.04  # held for about pulse_ms
    t.close()


def test_two_quick_admissions_are_two_pulses(factory: MockFactory) -> None:
    """A pulse-counting turnstile controller must see one pulse per admission."""
    t = Turnstile(IoSection(pulse_ms=30), pin_factory=factory)
    relay = factory.pin(17)
    t.open_once()
    t.open_once()
    assert wait_until(lambda: [s.state for s in relay.states].count(True) == 2)
    assert wait_until(lambda: relay.state is False)
    t.close()


def test_active_low_relay(factory: MockFactory) -> None:
    t = Turnstile(IoSection(relay_pin=5, active_high=False, pulse_ms=30), pin_factory=factory)
    pin = factory.pin(5)
    assert pin.state is True  # active low: idle is high
    t.open_once()
    assert wait_until(lambda: [s.state for s in pin.states][-2:] == [False, True])
    t.close()


def test_rotation_sensor_credits_admissions_in_order(factory: MockFactory) -> None:
    t = Turnstile(IoSection(pulse_ms=10, rotation_pin=24), pin_factory=factory)
    sensor = factory.pin(24)
    sensor.drive_high()  # pull-up: idle high, a turn pulls it low
    sensor.drive_low()  # a stray push before anyone was admitted
    sensor.drive_high()
    t.open_once()
    assert t.wait_rotation(0.05) is False  # the stray push does not count
    t.open_once()
    sensor.drive_low()
    sensor.drive_high()
    assert t.wait_rotation(1.0) is True
    t.close()


def test_no_sensor_means_passed_and_free_passage_holds_relay(factory: MockFactory) -> None:
    t = Turnstile(IoSection(rotation_pin=None), pin_factory=factory)
    assert t.wait_rotation(0) is True
    t.hold_open(True)
    assert factory.pin(17).state is True and factory.pin(27).state is True
    t.open_once()  # a pulse while held open must not release the relay
    time.sleep(0.05)
    assert factory.pin(17).state is True
    t.hold_open(False)
    assert factory.pin(17).state is False
    t.close()


def test_signals_and_mock_trace(tmp_path: Path) -> None:
    trace = tmp_path / "pins.log"
    io = IoSection(pin_factory="mock", mock_trace=str(trace), pulse_ms=20)
    t = Turnstile(io, pin_factory=make_pin_factory(io))
    t.signal(False)
    t.open_once()
    assert wait_until(lambda: "GPIO17 0" in trace.read_text())
    lines = trace.read_text().splitlines()
    assert any(line.endswith("GPIO17 1") for line in lines)
    assert any(line.endswith("GPIO22 1") for line in lines)  # red
    assert any(line.endswith("GPIO23 1") for line in lines)  # buzzer
    t.close()


def test_debounce_window_slides_while_in_view() -> None:
    clock = FakeClock()
    d = Debouncer(2.0, clock=clock)
    assert d.accept("A") is True
    clock.advance(1.0)
    assert d.accept("A") is False
    assert d.accept("B") is True
    clock.advance(1.5)
    assert d.accept("A") is False  # still in view: 1.5 s since the last read
    clock.advance(2.5)
    assert d.accept("A") is True
    assert d.suppressed == 2
