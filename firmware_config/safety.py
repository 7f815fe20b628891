"""Which targets ``venue flash`` may write: never a mounted disk, never the system disk.

The facts come from ``/proc/mounts``, ``/proc/swaps`` and sysfs (``/sys/block``: a disk's
partitions and the device-mapper/RAID devices built on them). They are read into a
:class:`SystemView` that tests build from text and a temp folder, so every refusal is tested
without a spare disk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_config.errors import FlashError

SYSTEM_MOUNTPOINTS = ("/", "/boot", "/boot/firmware", "/usr", "/var", "/home")


def _is_block(path: Path) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def _stat_devices(mountpoints: tuple[str, ...]) -> set[str]:
    """Kernel names of the block devices holding ``mountpoints``, via ``/sys/dev/block``."""
    out = set()
    for mnt in mountpoints:
        try:
            dev = os.stat(mnt).st_dev
        except OSError:
            continue
        link = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
        if link.exists():
            out.add(Path(os.path.realpath(link)).name)
    return out


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class SystemView:
    """A snapshot of mounts, swaps and block devices."""

    mounts_text: str
    swaps_text: str = ""
    sys_block: Path = Path("/sys/block")
    is_block: Callable[[Path], bool] = field(default=_is_block)
    system_devices: frozenset[str] = frozenset()
    """Block devices of the system's mountpoints found by ``stat`` (``/dev/root`` on a Pi names
    no real node in ``/proc/mounts``)."""

    @classmethod
    def current(cls) -> SystemView:
        """This machine, now."""
        return cls(
            _read("/proc/self/mounts") or _read("/proc/mounts"),
            _read("/proc/swaps"),
            system_devices=frozenset(_stat_devices(SYSTEM_MOUNTPOINTS)),
        )

    def mounts(self) -> list[tuple[str, str]]:
        """(source device name, mountpoint) for mounts backed by a ``/dev`` node."""
        out = []
        for line in self.mounts_text.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].startswith("/dev/"):
                out.append((self._name(parts[0]), parts[1].replace("\\040", " ")))
        for line in self.swaps_text.splitlines()[1:]:
            parts = line.split()
            if parts and parts[0].startswith("/dev/"):
                out.append((self._name(parts[0]), "[swap]"))
        return out

    @staticmethod
    def _name(dev: str) -> str:
        return Path(os.path.realpath(dev)).name

    def disk_of(self, name: str) -> str | None:
        """The whole disk that holds block device ``name`` (itself for a disk)."""
        if (self.sys_block / name).is_dir():
            slaves = self.sys_block / name / "slaves"
            if slaves.is_dir() and any(slaves.iterdir()):
                # device-mapper or RAID: the disk under its first component
                return self.disk_of(sorted(p.name for p in slaves.iterdir())[0])
            return name
        if self.sys_block.is_dir():
            for disk in self.sys_block.iterdir():
                if (disk / name / "partition").exists():
                    return disk.name
        return None

    def family(self, disk: str) -> set[str]:
        """The disk, its partitions, and every device stacked on any of them."""
        out = {disk}
        base = self.sys_block / disk
        stack = [base]
        if base.is_dir():
            stack += [p for p in base.iterdir() if (p / "partition").exists()]
        while stack:
            node = stack.pop()
            out.add(node.name)
            holders = node / "holders"
            if holders.is_dir():
                for h in holders.iterdir():
                    if h.name not in out:
                        stack.append(self.sys_block / h.name)
        return out

    def loop_backing(self) -> dict[str, str]:
        """Loop devices and the files behind them (a file in use as a disk is refused too)."""
        out = {}
        if self.sys_block.is_dir():
            for dev in self.sys_block.glob("loop*"):
                backing = (dev / "loop" / "backing_file")
                if backing.exists():
                    out[dev.name] = backing.read_text(encoding="utf-8").strip()
        return out


@dataclass(frozen=True)
class Target:
    """A checked target: a whole block device, or an image file."""

    path: Path
    is_block: bool
    disk: str | None = None


def check_target(target: Path, image: Path, view: SystemView | None = None) -> Target:
    """Refuse what must not be written; return the target otherwise.

    Raises:
        FlashError: mounted, in use as swap or loop, system disk, a partition, or the image itself.
    """
    view = view or SystemView.current()
    real = Path(os.path.realpath(target))
    if real == Path(os.path.realpath(image)):
        raise FlashError(f"{target}: is the image itself")
    if not view.is_block(real):
        return _check_file(target, real, view)
    name = real.name
    disk = view.disk_of(name)
    if disk is None:
        raise FlashError(f"{target}: block device not found in {view.sys_block}")
    if disk != name:
        raise FlashError(f"{target}: is a partition of /dev/{disk}; give the whole disk")
    system = {view.disk_of(src) for src, mnt in view.mounts() if mnt in SYSTEM_MOUNTPOINTS}
    system |= {view.disk_of(name) for name in view.system_devices}
    if disk in system:
        raise FlashError(f"{target}: is the system disk (it holds /); refusing to write it")
    family = view.family(disk)
    for src, mountpoint in view.mounts():
        if src in family:
            raise FlashError(
                f"{target}: /dev/{src} is mounted at {mountpoint}; unmount it first "
                f"(udisksctl unmount -b /dev/{src})"
            )
    return Target(target, True, disk)


def _check_file(target: Path, real: Path, view: SystemView) -> Target:
    if real.is_dir():
        raise FlashError(f"{target}: is a directory")
    if str(real).startswith("/dev/"):
        raise FlashError(f"{target}: no such block device (is the card inserted?)")
    for loop, backing in view.loop_backing().items():
        if backing == str(real):
            mounted = [m for src, m in view.mounts() if src == loop]
            where = f", mounted at {mounted[0]}" if mounted else ""
            raise FlashError(f"{target}: is attached to /dev/{loop}{where}; detach it first")
    return Target(target, False)
