"""The turnstile's hardware: relay, green and red LEDs, buzzer, rotation sensor (gpiozero).

Built like gpiozero's own devices: every part takes an injected ``pin_factory`` (``MockFactory``
in tests and simulation, chosen by ``io.pin_factory``), and nothing here knows whether it is being
tested. The relay is a ``DigitalOutputDevice`` that is off at start, so a gate that reboots never
opens by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import IO, Any

from gate.config import IoSection
from venue.errors import VenueError

log = logging.getLogger("venue.gate.io")


PULSE_GAP_S = 0.1
"""Relay off time between two pulses, so a pulse-counting controller sees both."""


class ActuatorError(VenueError, RuntimeError):
    """A GPIO pin cannot be opened (wrong number, in use, no GPIO on this machine)."""


def make_pin_factory(io: IoSection) -> Any:
    """The pin factory ``io.pin_factory`` names; ``None`` lets gpiozero pick the board's own."""
    if io.pin_factory != "mock":
        return None
    from gpiozero.pins.mock import MockFactory, MockPin

    if not io.mock_trace:
        return MockFactory()
    trace: IO[str] = open(io.mock_trace, "a", buffering=1, encoding="ascii")  # noqa: SIM115

    class TracingMockPin(MockPin):  # type: ignore[misc]
        """A mock pin that appends each output change to the trace file (simulation log)."""

        def _change_state(self, value: bool) -> bool:
            changed = bool(super()._change_state(value))
            if changed and self._function == "output":
                trace.write(f"{time.time():.6f} {self.info.name} {int(value)}\n")
            return changed

    return MockFactory(pin_class=TracingMockPin)


class Turnstile:
    """Relay, lights, buzzer and rotation sensor of one gate.

    Args:
        io: The ``[io]`` wiring.
        pin_factory: gpiozero pin factory; default from :func:`make_pin_factory`.
    """

    def __init__(self, io: IoSection, *, pin_factory: Any = None) -> None:
        from gpiozero import LED, Buzzer, DigitalInputDevice, DigitalOutputDevice
        from gpiozero.exc import GPIOZeroError

        self.io = io
        self.pin_factory = pin_factory if pin_factory is not None else make_pin_factory(io)
        self.pulse_s = io.pulse_ms / 1000.0
        self._cond = threading.Condition()
        self._rotations = 0
        self._expected = 0
        self._lock = threading.Lock()
        self.held_open = False
        self.pulses = 0
        self.turns = 0
        self._pending_pulses = 0
        self._requested = 0
        self._delivered = 0
        self._pulser: threading.Thread | None = None
        self._closed = False
        pf = self.pin_factory
        try:
            self.relay = (
                DigitalOutputDevice(
                    io.relay_pin, active_high=io.active_high, initial_value=False, pin_factory=pf
                )
                if io.relay_pin is not None
                else None
            )
            self.green = LED(io.green_pin, pin_factory=pf) if io.green_pin is not None else None
            self.red = LED(io.red_pin, pin_factory=pf) if io.red_pin is not None else None
            self.buzzer = (
                Buzzer(io.buzzer_pin, pin_factory=pf) if io.buzzer_pin is not None else None
            )
            self.rotation = (
                DigitalInputDevice(io.rotation_pin, pull_up=io.rotation_pull_up, pin_factory=pf)
                if io.rotation_pin is not None
                else None
            )
        except GPIOZeroError as exc:
            self.close()
            raise ActuatorError(f"cannot open GPIO: {exc}") from exc
        if self.rotation is not None:
            self.rotation.when_activated = self._on_rotation

    def _on_rotation(self) -> None:
        with self._cond:
            self._rotations += 1
            self.turns += 1
            self._cond.notify_all()

    @property
    def has_rotation_sensor(self) -> bool:
        return self.rotation is not None

    def open_once(self, *, expect_passage: bool = True) -> int:
        """Pulse the relay for ``pulse_ms`` (in the background) and arm the rotation sensor.

        Turns are credited to admissions in order; a turn while nobody was admitted (someone
        pushing a locked turnstile) is forgotten at the next admission.

        Returns:
            The pulse's number for :meth:`wait_rotation` (0 when no pulse is due: no relay, or
            the relay is held open).
        """
        if expect_passage:
            with self._cond:
                if self._expected == 0:
                    self._rotations = 0
                self._expected += 1
        with self._lock:
            self.pulses += 1
            if self.relay is None or self.held_open:
                return 0
            self._pending_pulses += 1
            with self._cond:
                self._requested += 1
                number = self._requested
            if self._pulser is None or not self._pulser.is_alive():
                self._pulser = threading.Thread(target=self._pulse_loop, name="relay", daemon=True)
                self._pulser.start()
        return number

    def _pulse_loop(self) -> None:
        """One distinct pulse per admission, with a gap between them.

        Turnstile controllers count pulses: two admissions in quick succession must be two
        pulses, not one pulse held longer, or the second visitor is recorded but not let through.
        """
        assert self.relay is not None
        while True:
            with self._lock:
                if self._pending_pulses == 0 or self.held_open or self._closed:
                    self._pending_pulses = 0
                    self._pulser = None
                    return
                self._pending_pulses -= 1
                self.relay.on()
            with self._cond:
                self._delivered += 1
                self._cond.notify_all()
            time.sleep(self.pulse_s)
            with self._lock:
                if not self.held_open and not self._closed:
                    self.relay.off()
            time.sleep(PULSE_GAP_S)

    def signal(self, admitted: bool) -> None:
        """Green light and one beep for an admission; red light and three beeps for a rejection."""
        if admitted:
            if self.green is not None:
                self.green.blink(on_time=max(self.pulse_s, 0.5), off_time=0.001, n=1)
            if self.buzzer is not None:
                self.buzzer.beep(on_time=0.08, off_time=0.05, n=1)
        else:
            if self.red is not None:
                self.red.blink(on_time=0.15, off_time=0.1, n=3)
            if self.buzzer is not None:
                self.buzzer.beep(on_time=0.08, off_time=0.08, n=3)

    def wait_rotation(self, timeout: float, pulse: int = 0) -> bool:
        """Whether the turnstile turned for the admission that got pulse number ``pulse``.

        Without a sensor the answer is whether that pulse was actually delivered: an admission
        whose pulse was still queued when the process died must not count as passed.
        """
        if self.rotation is None:
            if not pulse:
                return True
            with self._cond:
                return self._cond.wait_for(lambda: self._delivered >= pulse, timeout)
        with self._cond:
            turned = self._cond.wait_for(lambda: self._rotations > 0, timeout)
            if turned:
                self._rotations -= 1
            self._expected = max(0, self._expected - 1)
            return turned

    def hold_open(self, on: bool) -> None:
        """Free passage: keep the relay energised (emergency), or release it."""
        with self._lock:
            self.held_open = on
            if self.relay is not None:
                if on:
                    self.relay.on()
                else:
                    self.relay.off()
            if self.green is not None:
                if on:
                    self.green.on()
                else:
                    self.green.off()

    def outputs(self) -> dict[str, Any]:
        """Configured outputs by name, for ``venue gate test-io``."""
        named = {"relay": self.relay, "green": self.green, "red": self.red, "buzzer": self.buzzer}
        return {k: v for k, v in named.items() if v is not None}

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for dev in ("relay", "green", "red", "buzzer", "rotation"):
            d = getattr(self, dev, None)
            if d is not None:
                try:
                    d.close()
                except Exception:  # closing during shutdown must not mask the real error
                    log.debug("closing %s failed", dev, exc_info=True)
