"""Write an OS image to a card or an image file, verify it, and add the first-boot files.

Order matters for "never claim a half-written card as good": the image is streamed to the target
while hashing (SHA-256), synced, read back from the target (page cache dropped for block devices)
and compared; then the first-boot files are copied into the FAT boot partition with mtools
(``mcopy -i TARGET@@OFFSET``: no mounting, no root for image files) and read back too. An image
file target is written as ``.NAME.partial`` and renamed only when all of that succeeded; a card
whose write failed gets its first MiB zeroed, so it has no partition table a Pi could boot from.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware_config.errors import FlashError
from firmware_config.images import CHUNK, ImageReader, Partition, boot_partition
from firmware_config.progress import NoProgress, Progress
from firmware_config.safety import SystemView, Target, check_target

Runner = Callable[..., subprocess.CompletedProcess[bytes]]
FIRST_BOOT_REQUIRED = ("user-data", "meta-data")
CONFIG_FRAGMENT = "venue-config.txt"
BLKRRPART = 0x125F
INCLUDE_LINE = f"include {CONFIG_FRAGMENT}"


@dataclass
class Mtools:
    """mtools on a FAT file system at a byte offset of a disk or image."""

    run: Runner = subprocess.run

    def _env(self) -> dict[str, str]:
        # Our images are not floppies: skip mtools' geometry sanity check.
        return {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLS_NO_VFAT": "0"}

    def _call(self, *argv: str) -> bytes:
        if shutil.which(argv[0]) is None:
            raise FlashError(f"{argv[0]} not found: install mtools (apt-get install mtools)")
        result = self.run(list(argv), capture_output=True, env=self._env(), check=False)
        if result.returncode != 0:
            err = result.stderr.decode(errors="replace").strip().splitlines()
            raise FlashError(f"{argv[0]} failed: {err[0] if err else result.returncode}")
        return bytes(result.stdout)

    @staticmethod
    def spec(image: Path, offset: int) -> str:
        return f"{image}@@{offset}"

    def copy_in(self, image: Path, offset: int, src: Path, name: str) -> None:
        self._call("mcopy", "-o", "-i", self.spec(image, offset), str(src), f"::/{name}")

    def read(self, image: Path, offset: int, name: str) -> bytes:
        return self._call("mtype", "-i", self.spec(image, offset), f"::/{name}")

    def names(self, image: Path, offset: int) -> list[str]:
        out = self._call("mdir", "-b", "-i", self.spec(image, offset), "::/")
        return [line.rsplit("/", 1)[-1] for line in out.decode(errors="replace").splitlines()]


@dataclass(frozen=True)
class FlashPlan:
    """What ``flash`` will do, as ``--dry-run`` shows it."""

    image: Path
    target: Target
    kind: str
    compressed_size: int
    boot_files: tuple[Path, ...]

    def describe(self) -> list[str]:
        what = "block device" if self.target.is_block else "image file"
        lines = [
            f"image   {self.image} ({self.kind}, {self.compressed_size} bytes)",
            f"target  {self.target.path} ({what})",
            "verify  SHA-256 of the written bytes, read back from the target",
        ]
        lines += [f"boot    + {p.name}" for p in self.boot_files]
        if any(p.name == CONFIG_FRAGMENT for p in self.boot_files):
            lines.append(f"boot    config.txt += '{INCLUDE_LINE}'")
        return lines


@dataclass(frozen=True)
class FlashResult:
    """What was written and checked."""

    written: int
    sha256: str
    boot: Partition | None
    copied: tuple[str, ...]


def published_sha256(image: Path, given: str | None) -> tuple[str, str] | None:
    """The image's expected SHA-256 and where it came from: ``--sha256`` (hex or a file), or the
    ``IMAGE.sha256`` file that Raspberry Pi publishes beside each download."""
    source: str | None = None
    if given and re.fullmatch(r"[0-9a-fA-F]{64}", given):
        return given.lower(), "--sha256"
    if given:
        path = Path(given)
        if not path.is_file():
            raise FlashError(f"--sha256 {given}: neither 64 hex digits nor a file")
        source = given
    elif image.with_name(image.name + ".sha256").is_file():
        source = str(image.with_name(image.name + ".sha256"))
    if source is None:
        return None
    text = Path(source).read_text(encoding="utf-8", errors="replace")
    match = re.search(r"\b[0-9a-fA-F]{64}\b", text)
    if match is None:
        raise FlashError(f"{source}: holds no SHA-256")
    return match.group(0).lower(), source


def check_image_hash(image: Path, expected: str, source: str) -> None:
    """Refuse a corrupt or wrong download before anything is written."""
    h = hashlib.sha256()
    with open(image, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    if h.hexdigest() != expected:
        raise FlashError(
            f"{image}: SHA-256 {h.hexdigest()[:16]}... differs from {source} "
            f"({expected[:16]}...): corrupt or wrong download"
        )


def plan(image: Path, target: Path, device_dir: Path | None,
         *, view: SystemView | None = None) -> FlashPlan:
    """Check everything that can be checked before writing a byte."""
    if not image.is_file():
        raise FlashError(f"{image}: image not found")
    files: tuple[Path, ...] = ()
    if device_dir is not None:
        if not (device_dir / "user-data").exists() and (device_dir / "boot").is_dir():
            device_dir = device_dir / "boot"  # the inventory's device folder was given
        if not device_dir.is_dir():
            raise FlashError(f"{device_dir}: first-boot folder not found")
        files = tuple(sorted(p for p in device_dir.iterdir() if p.is_file()))
        missing = [n for n in FIRST_BOOT_REQUIRED if not (device_dir / n).is_file()]
        if missing:
            raise FlashError(f"{device_dir}: not a first-boot folder (no {', '.join(missing)})")
    checked = check_target(target, image, view)
    reader = ImageReader(image)
    return FlashPlan(image, checked, reader.kind, reader.compressed_size, files)


def _open_target(target: Target, path: Path) -> int:
    if target.is_block:
        # O_EXCL on a block device: the kernel refuses if anything has it mounted or claimed.
        return os.open(path, os.O_WRONLY | os.O_EXCL | os.O_CLOEXEC)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)


def _hash_back(path: Path, length: int, is_block: bool) -> str:
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if is_block:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        left = length
        while left > 0:
            data = os.read(fd, min(CHUNK, left))
            if not data:
                break
            h.update(data)
            left -= len(data)
    finally:
        os.close(fd)
    return h.hexdigest()


def write_image(fp: FlashPlan, fd: int, progress: Progress) -> tuple[int, str]:
    """Stream the image to the open target ``fd`` (closed here); return bytes and SHA-256."""
    reader = ImageReader(fp.image)
    h = hashlib.sha256()
    written = 0
    progress.start(fp.compressed_size, f"writing {fp.target.path}")
    try:
        for chunk in reader.chunks():
            view = memoryview(chunk)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            h.update(chunk)
            written += len(chunk)
            progress.update(written, reader.consumed)
        os.fsync(fd)
    finally:
        os.close(fd)
        progress.finish()
    return written, h.hexdigest()


def add_boot_files(
    dest: Path, files: tuple[Path, ...], mtools: Mtools
) -> tuple[Partition, list[str]]:
    """Copy first-boot files into the boot partition and include the config.txt fragment."""
    part = boot_partition(dest)
    copied = []
    for src in files:
        mtools.copy_in(dest, part.offset, src, src.name)
        if mtools.read(dest, part.offset, src.name) != src.read_bytes():
            raise FlashError(f"{src.name}: read back from the boot partition differs")
        copied.append(src.name)
    if CONFIG_FRAGMENT in copied:
        existing = b""
        if "config.txt" in {n.lower() for n in mtools.names(dest, part.offset)}:
            existing = mtools.read(dest, part.offset, "config.txt")
        if INCLUDE_LINE.encode() not in existing:
            sep = b"" if not existing or existing.endswith(b"\n") else b"\n"
            text = existing + sep + f"\n[all]\n{INCLUDE_LINE}\n".encode()
            tmp = dest.with_name(f".{dest.name}.config.txt")
            try:
                tmp.write_bytes(text)
                mtools.copy_in(dest, part.offset, tmp, "config.txt")
            finally:
                tmp.unlink(missing_ok=True)
            copied.append("config.txt")
    return part, copied


def flash(fp: FlashPlan, *, progress: Progress | None = None,
          mtools: Mtools | None = None) -> FlashResult:
    """Write, verify, customise; on failure leave nothing that looks like a good card or image.

    Raises:
        FlashError: corrupt image, short write, hash mismatch, mtools failure.
    """
    progress = progress or NoProgress()
    mtools = mtools or Mtools()
    target = fp.target
    dest = target.path if target.is_block else target.path.with_name(f".{target.path.name}.partial")
    try:
        fd = _open_target(target, dest)
    except OSError as exc:  # nothing written yet: nothing to spoil
        raise FlashError(_os_message(target.path, exc)) from None
    try:
        written, digest = write_image(fp, fd, progress)
        if written == 0:
            raise FlashError(f"{fp.image}: image is empty")
        back = _hash_back(dest, written, target.is_block)
        if back != digest:
            raise FlashError(f"{target.path}: read-back SHA-256 differs from what was written")
        part: Partition | None = None
        copied: list[str] = []
        if fp.boot_files:
            part, copied = add_boot_files(dest, fp.boot_files, mtools)
        if target.is_block:
            _settle(dest)
        else:
            os.replace(dest, target.path)
    except BaseException as exc:
        _spoil(target, dest)
        if isinstance(exc, OSError):
            raise FlashError(_os_message(target.path, exc)) from None
        raise
    return FlashResult(written, digest, part, tuple(copied))


def _os_message(path: Path, exc: OSError) -> str:
    if exc.errno == errno.EBUSY:
        return f"{path}: busy (mounted or opened by another program); nothing written"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{path}: permission denied (writing a card needs root: sudo)"
    return f"{path}: {exc.strerror or exc}"


def _settle(device: Path) -> None:
    """Flush what mtools wrote and let the kernel re-read the card's new partition table."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
        try:
            fcntl.ioctl(fd, BLKRRPART)
        except OSError:
            pass  # e.g. a loop device without partition scanning: harmless
    finally:
        os.close(fd)


def _spoil(target: Target, dest: Path) -> None:
    """After a failure: delete a partial file, or zero the first MiB of a card."""
    if not target.is_block:
        dest.unlink(missing_ok=True)
        return
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"\0" * (1024 * 1024))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
