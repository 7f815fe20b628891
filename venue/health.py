"""Plain health numbers for telemetry: uptime, CPU temperature, memory, load.

All readers take their paths as arguments so tests point them at a temp dir, and return ``None``
instead of raising on machines that lack the file (a laptop has no Pi thermal zone).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

from venue.clock import SYSTEM_CLOCK, Clock

THERMAL = Path("/sys/class/thermal")


def cpu_temperature(thermal: Path = THERMAL) -> float | None:
    """Degrees Celsius of the CPU zone (the Pi's ``cpu-thermal``, else the first zone)."""
    zones = sorted(thermal.glob("thermal_zone*"))
    for zone in zones:
        try:
            if "cpu" in (zone / "type").read_text().lower():
                return int((zone / "temp").read_text().strip()) / 1000
        except (OSError, ValueError):
            continue
    for zone in zones:
        try:
            return int((zone / "temp").read_text().strip()) / 1000
        except (OSError, ValueError):
            continue
    return None


def rss_bytes(statm: Path = Path("/proc/self/statm")) -> int:
    """Resident memory of this process now (peak RSS where ``/proc`` is missing)."""
    try:
        return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def system_uptime(path: Path = Path("/proc/uptime")) -> float | None:
    """Seconds since boot: a short one next to a long process uptime means a power cut."""
    try:
        return float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Health:
    """Collects the numbers; create it at process start so uptime counts from there."""

    def __init__(self, *, clock: Clock | None = None, thermal: Path = THERMAL) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.thermal = thermal
        self.started = self.clock.monotonic()

    def numbers(self) -> dict[str, float | int | None]:
        """``uptime_s``, ``system_uptime_s``, ``cpu_temp_c``, ``rss_bytes``, ``load1``."""
        try:
            load1: float | None = round(os.getloadavg()[0], 2)
        except OSError:
            load1 = None
        return {
            "uptime_s": round(self.clock.monotonic() - self.started, 1),
            "system_uptime_s": system_uptime(),
            "cpu_temp_c": cpu_temperature(self.thermal),
            "rss_bytes": rss_bytes(),
            "load1": load1,
        }
