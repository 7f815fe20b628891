"""Scanner backends, after bleak's pattern: built with a detection callback, started and stopped.

The daemon never builds a ``BleakScanner`` itself; it takes a *backend factory* with the same
shape as ``BleakScanner(detection_callback, scanning_mode=..., bluez={...})``. On a Pi that is
:class:`BleakBackend`; in the demo it is :class:`beacon.simulate.SimulatedBackend`; in tests it is
a small class that feeds real ``bleak`` ``BLEDevice``/``AdvertisementData`` objects into the same
callback, so every test goes through the code path the hardware uses.

Restarting the adapter is a separate, equally injectable piece (:class:`AdapterControl`): BlueZ
scans sometimes stop without an error, and then only a power cycle of the adapter helps.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from venue.errors import VenueError

if TYPE_CHECKING:
    from beacon.config import BeaconConfig

log = logging.getLogger(__name__)

DetectionCallback = Callable[[Any, Any], None]
"""``callback(device: BLEDevice, advertisement: AdvertisementData)``, as bleak calls it."""

ScanningMode = Literal["passive", "active"]

APPLE_PATTERN = b"\x4c\x00"
"""BlueZ passive-scan pattern: manufacturer data of Apple (company id, little-endian).

Deliberately wider than the iBeacon prefix (``4c 00 02 15``): iPhones also send other Apple frames
all day, and that steady traffic is what tells the watchdog the scan is alive.
"""


class ScannerError(VenueError, RuntimeError):
    """The Bluetooth scanner or adapter could not be started or restarted."""


class ScannerBackend(Protocol):
    """What the daemon needs from a scanner: start and stop; sightings arrive via the callback.

    The callback is called on the event loop thread and must not block.
    """

    async def start(self) -> None:
        """Start scanning; raise when the adapter is missing or refuses."""
        ...

    async def stop(self) -> None:
        """Stop scanning; must not raise when already stopped."""
        ...


class BackendFactory(Protocol):
    """Builds a backend, like ``BleakScanner(detection_callback, scanning_mode=..., ...)``."""

    def __call__(
        self,
        detection_callback: DetectionCallback,
        *,
        scanning_mode: ScanningMode,
        adapter: str | None,
    ) -> ScannerBackend: ...


class BleakBackend:
    """The real scanner: ``bleak.BleakScanner``, passive where BlueZ supports it, else active.

    Passive scanning on BlueZ needs advertisement monitors (``or_patterns``; BlueZ 5.56+ with
    experimental features on some versions). When starting passively fails, this falls back to
    active scanning and keeps using it; :attr:`mode` says which one runs.

    Args:
        detection_callback: Called for every advertisement.
        scanning_mode: ``passive`` (preferred) or ``active``.
        adapter: BlueZ adapter name (``hci0``); ``None`` for the default.
        scanner_cls: The scanner class (default ``bleak.BleakScanner``).
    """

    def __init__(
        self,
        detection_callback: DetectionCallback,
        *,
        scanning_mode: ScanningMode = "passive",
        adapter: str | None = None,
        scanner_cls: Any = None,
    ) -> None:
        self._callback = detection_callback
        self.mode: ScanningMode = scanning_mode
        self.adapter = adapter
        self._scanner_cls = scanner_cls
        self._scanner: Any = None

    def _build(self, mode: ScanningMode) -> Any:
        cls = self._scanner_cls
        if cls is None:
            from bleak import BleakScanner

            cls = BleakScanner
        bluez: dict[str, Any] = {}
        if self.adapter:
            bluez["adapter"] = self.adapter
        if mode == "passive":
            from bleak.args.bluez import OrPattern
            from bleak.assigned_numbers import AdvertisementDataType

            bluez["or_patterns"] = [
                OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, APPLE_PATTERN)
            ]
        return cls(self._callback, scanning_mode=mode, bluez=bluez)

    async def start(self) -> None:
        if self.mode == "passive":
            try:
                self._scanner = self._build("passive")
                await self._scanner.start()
                return
            except Exception as exc:
                log.warning("passive scanning unavailable (%s); falling back to active", exc)
                self.mode = "active"
        self._scanner = self._build("active")
        await self._scanner.start()

    async def stop(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            try:
                await scanner.stop()
            except Exception as exc:  # stopping a scan that BlueZ already dropped
                log.debug("stopping the scanner failed: %s", exc)


def bleak_backend(
    detection_callback: DetectionCallback, *, scanning_mode: ScanningMode, adapter: str | None
) -> ScannerBackend:
    """The default :class:`BackendFactory`."""
    return BleakBackend(detection_callback, scanning_mode=scanning_mode, adapter=adapter)


def backend_for(config: BeaconConfig) -> BackendFactory:
    """The factory ``beacon.backend`` names: bleak, or phones from ``[simulation]``."""
    if config.beacon.backend == "simulated":
        from beacon.simulate import simulated_factory

        factory: BackendFactory = simulated_factory(
            config.simulation, config.beacon.app_uuids[0], config.beacon.path_loss_exponent
        )
        return factory
    return bleak_backend


class AdapterControl(Protocol):
    """Power-cycles the Bluetooth adapter, the last resort when restarting the scan did not help."""

    async def power_cycle(self, adapter: str | None) -> None:
        """Switch the adapter off and on; raise :class:`ScannerError` when that fails."""
        ...


class BluezAdapterControl:
    """Power cycle through BlueZ over D-Bus (``org.bluez.Adapter1.Powered``), as bleak talks to
    BlueZ, with ``bluetoothctl`` as the fallback where D-Bus cannot be reached from Python.

    Args:
        settle_s: Pause between off and on, so the controller really resets.
    """

    def __init__(self, settle_s: float = 1.0) -> None:
        self.settle_s = settle_s

    async def power_cycle(self, adapter: str | None) -> None:
        name = adapter or "hci0"
        try:
            await self._dbus(name)
            return
        except ScannerError:
            raise
        except Exception as exc:
            log.warning("D-Bus power cycle of %s failed (%s); trying bluetoothctl", name, exc)
        await self._bluetoothctl(name)

    async def _dbus(self, name: str) -> None:
        from dbus_fast import BusType, Message, MessageType, Variant
        from dbus_fast.aio import MessageBus

        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            for powered in (False, True):
                reply = await bus.call(
                    Message(
                        destination="org.bluez",
                        path=f"/org/bluez/{name}",
                        interface="org.freedesktop.DBus.Properties",
                        member="Set",
                        signature="ssv",
                        body=["org.bluez.Adapter1", "Powered", Variant("b", powered)],
                    )
                )
                if reply is None or reply.message_type == MessageType.ERROR:
                    detail = reply.body if reply is not None else "no reply"
                    raise ScannerError(f"BlueZ refused to power {name} {powered}: {detail}")
                if not powered:
                    await asyncio.sleep(self.settle_s)
        finally:
            bus.disconnect()

    async def _bluetoothctl(self, name: str) -> None:
        exe = shutil.which("bluetoothctl")
        if exe is None:
            raise ScannerError("cannot power cycle the adapter: no D-Bus and no bluetoothctl")
        script = f"select {name}\npower off\npower on\nquit\n".encode()
        proc = await asyncio.create_subprocess_exec(
            exe,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(proc.communicate(script), timeout=15)
        except TimeoutError:
            proc.kill()
            raise ScannerError(f"bluetoothctl did not power cycle {name} in 15 s") from None
        if proc.returncode != 0:
            raise ScannerError(f"bluetoothctl failed with status {proc.returncode}")
