"""OS images: streamed decompression and the partition table that locates the boot partition.

Images are read in chunks through :mod:`lzma`/:mod:`gzip`, never whole into memory (a Raspberry
Pi OS image is several GB). The boot partition is the first FAT partition of an MBR table (types
0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E) or of a GPT (basic data or EFI system partition).
"""

from __future__ import annotations

import gzip
import lzma
import struct
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from firmware_config.errors import FlashError

CHUNK = 4 * 1024 * 1024
SECTOR = 512
FAT_MBR_TYPES = {0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E}
GPT_FAT_TYPES = {
    uuid.UUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"),  # Microsoft basic data
    uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),  # EFI system partition
}


def image_kind(path: Path) -> str:
    """``xz``, ``gz`` or ``raw``, from the file's magic bytes (names can lie)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if path.suffix in (".xz", ".gz"):
        raise FlashError(f"{path}: named {path.suffix} but is not {path.suffix[1:]}-compressed")
    return "raw"


@dataclass
class ImageReader:
    """Chunks of the decompressed image; ``consumed`` counts compressed bytes for progress."""

    path: Path
    chunk: int = CHUNK

    def __post_init__(self) -> None:
        self.kind = image_kind(self.path)
        self.compressed_size = self.path.stat().st_size
        self._raw: IO[bytes] | None = None

    @property
    def consumed(self) -> int:
        """Compressed bytes read so far (the only size known in advance for ``.xz``)."""
        return self._raw.tell() if self._raw is not None and not self._raw.closed else 0

    def chunks(self) -> Iterator[bytes]:
        """Yield decompressed chunks.

        Raises:
            FlashError: a truncated or corrupt compressed image, naming the file.
        """
        with ExitStack() as stack:
            raw = stack.enter_context(open(self.path, "rb"))
            self._raw = raw
            stream: IO[bytes] = raw
            if self.kind == "xz":
                stream = stack.enter_context(lzma.LZMAFile(raw))
            elif self.kind == "gz":
                stream = stack.enter_context(gzip.GzipFile(fileobj=raw))  # type: ignore[arg-type]
            try:
                while True:
                    data = stream.read(self.chunk)
                    if not data:
                        return
                    yield data
            except EOFError:
                raise FlashError(f"{self.path}: truncated {self.kind} image (ends early)") from None
            except (lzma.LZMAError, gzip.BadGzipFile, OSError) as exc:
                raise FlashError(f"{self.path}: corrupt {self.kind} image: {exc}") from None


@dataclass(frozen=True)
class Partition:
    """A partition's place on the disk, in bytes."""

    index: int
    offset: int
    size: int
    type: str


def _mbr(sector0: bytes) -> list[Partition]:
    out = []
    for i in range(4):
        entry = sector0[446 + 16 * i : 446 + 16 * (i + 1)]
        ptype = entry[4]
        start, count = struct.unpack_from("<II", entry, 8)
        if ptype and count:
            out.append(Partition(i + 1, start * SECTOR, count * SECTOR, f"0x{ptype:02x}"))
    return out


def _gpt(f: BinaryIO) -> list[Partition]:
    f.seek(SECTOR)
    header = f.read(92)
    if header[:8] != b"EFI PART":
        raise FlashError("protective MBR but no GPT header")
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    f.seek(entries_lba * SECTOR)
    table = f.read(count * size)
    out = []
    for i in range(count):
        entry = table[i * size : (i + 1) * size]
        if len(entry) < 128:
            break
        type_guid = uuid.UUID(bytes_le=entry[:16])
        if type_guid.int == 0:
            continue
        first, last = struct.unpack_from("<QQ", entry, 32)
        out.append(Partition(i + 1, first * SECTOR, (last - first + 1) * SECTOR, str(type_guid)))
    return out


def partitions(f: BinaryIO) -> list[Partition]:
    """Partitions of the disk or image open as ``f`` (MBR, or GPT behind a protective MBR)."""
    f.seek(0)
    sector0 = f.read(SECTOR)
    if len(sector0) < SECTOR or sector0[510:512] != b"\x55\xaa":
        raise FlashError("no partition table (no MBR signature)")
    parts = _mbr(sector0)
    if any(p.type == "0xee" for p in parts):
        return _gpt(f)
    return parts


def boot_partition(path: Path) -> Partition:
    """The first FAT partition of the disk or image at ``path``."""
    with open(path, "rb") as f:
        for part in partitions(f):
            is_fat = part.type.startswith("0x") and int(part.type, 16) in FAT_MBR_TYPES
            if is_fat or (not part.type.startswith("0x") and uuid.UUID(part.type) in GPT_FAT_TYPES):
                return part
    raise FlashError(f"{path}: no FAT boot partition in its partition table")
