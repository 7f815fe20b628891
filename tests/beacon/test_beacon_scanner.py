"""BleakBackend through bleak's own BleakScanner with a custom bleak backend class: the arguments
BlueZ would get (adapter, passive or-patterns), the fallback to active scanning, and bleak's real
callback dispatch into the daemon's callback."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, ClassVar

import pytest
from bleak import BleakScanner
from bleak.args.bluez import OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from beacon.ibeacon import APPLE, build_frame, parse
from beacon.scanner import APPLE_PATTERN, BleakBackend, BluezAdapterControl, ScannerError


class RecordingBackend(BaseBleakScanner):
    """A bleak platform backend that records how it was built; passive start can be refused."""

    built: ClassVar[list[dict[str, Any]]] = []
    refuse_passive: ClassVar[bool] = False
    live: ClassVar[list[RecordingBackend]] = []

    def __init__(self, detection_callback: Any, service_uuids: Any, scanning_mode: str,
                 *, bluez: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self.mode = scanning_mode
        self.built.append({"mode": scanning_mode, "bluez": dict(bluez)})

    async def start(self) -> None:
        if self.mode == "passive" and self.refuse_passive:
            raise BleakError("passive scanning requires BlueZ experimental features")
        self.live.append(self)

    async def stop(self) -> None:
        self.live.remove(self)

    def advertise(self, address: str, adv: AdvertisementData) -> None:
        device = self.create_or_update_device(address, address, None, {}, adv)
        self.call_detection_callbacks(device, adv)


@pytest.fixture(autouse=True)
def _reset() -> None:
    RecordingBackend.built.clear()
    RecordingBackend.live.clear()
    RecordingBackend.refuse_passive = False


def scanner_cls() -> Any:
    return functools.partial(BleakScanner, backend=RecordingBackend)


def test_passive_scan_asks_bluez_for_apple_frames_on_the_adapter() -> None:
    seen: list[Any] = []
    backend = BleakBackend(lambda d, a: seen.append(parse(a.manufacturer_data)),
                           scanning_mode="passive", adapter="hci1", scanner_cls=scanner_cls())

    async def run() -> None:
        await backend.start()
        frame = build_frame("53fee14b-aa2c-4bb0-80d9-c6815dcc2d49", 7, 8, -59)
        adv = AdvertisementData(None, {APPLE: frame}, {}, [], None, -61, ())
        RecordingBackend.live[0].advertise("AA:BB:CC:DD:EE:FF", adv)
        await backend.stop()
        await backend.stop()  # stopping twice is fine

    asyncio.run(run())
    (built,) = RecordingBackend.built
    assert built["mode"] == "passive" and built["bluez"]["adapter"] == "hci1"
    assert built["bluez"]["or_patterns"] == [
        OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, APPLE_PATTERN)
    ]
    assert backend.mode == "passive"
    assert [(b.major, b.minor, b.tx_power) for b in seen] == [(7, 8, -59)]


def test_falls_back_to_active_when_passive_is_refused() -> None:
    RecordingBackend.refuse_passive = True
    backend = BleakBackend(lambda d, a: None, scanning_mode="passive", adapter=None,
                           scanner_cls=scanner_cls())
    asyncio.run(backend.start())
    assert [b["mode"] for b in RecordingBackend.built] == ["passive", "active"]
    assert "or_patterns" not in RecordingBackend.built[1]["bluez"]
    assert "adapter" not in RecordingBackend.built[1]["bluez"]
    assert backend.mode == "active"


def test_adapter_control_without_bluez_fails_with_scanner_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No system D-Bus with BlueZ on this machine, and no bluetoothctl on PATH.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ScannerError):
        asyncio.run(BluezAdapterControl(settle_s=0).power_cycle("hci0"))
