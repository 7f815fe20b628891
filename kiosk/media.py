"""Item and promotion pictures from the hub, kept on disk in the kiosk's data dir.

The catalog names pictures by hub path (``/api/v1/media/latte.png``); fetching one is a blocking
HTTP call, so :meth:`MediaCache.fetch` runs on the worker thread and the views only ever open a
file that is already on disk (Kivy reads a small PNG in well under a frame). The directory is
bounded (``max_bytes``): when a new picture would exceed it, the least recently used ones go, so
a kiosk that has seen many menus never fills its SD card. Only PNG, JPEG, GIF and WebP bytes are
kept (by their magic numbers): an error page served with 200 never becomes a "picture".
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("venue.kiosk.media")

MAX_BYTES = 32 * 1024 * 1024
"""Default bound of the cache directory."""
MAX_PICTURE = 2 * 1024 * 1024
"""A larger answer is not a menu picture; it is not kept."""

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
)


def picture_kind(data: bytes) -> str | None:
    """The file extension for picture bytes, or ``None`` when they are not a picture we show."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


class MediaCache:
    """Pictures by hub path in ``directory``, at most ``max_bytes`` of them.

    Safe to call from the worker thread and the UI thread at once (a lock around the directory
    bookkeeping; files appear atomically by rename).
    """

    def __init__(self, directory: Path | str, *, max_bytes: int = MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    @staticmethod
    def _stem(path: str) -> str:
        return hashlib.sha256(path.encode("utf-8")).hexdigest()[:32]

    def cached(self, path: str) -> Path | None:
        """The file holding ``path``'s picture, if it is on disk (marks it recently used)."""
        stem = self._stem(path)
        with self._lock:
            for f in self.directory.glob(stem + ".*"):
                if f.suffix in (".png", ".jpg", ".gif", ".webp"):
                    try:
                        os.utime(f)
                    except OSError:
                        continue
                    return f
        return None

    def fetch(self, path: str, get: Callable[[str], bytes | None]) -> Path | None:
        """The picture of ``path`` on disk, downloading it with ``get`` when missing.

        Blocking: call it on the worker thread. ``None`` when the hub has no such picture, the
        answer is not a picture, or it does not fit the cache.
        """
        hit = self.cached(path)
        if hit is not None:
            return hit
        data = get(path)
        if not data or len(data) > min(MAX_PICTURE, self.max_bytes):
            return None
        ext = picture_kind(data)
        if ext is None:
            log.warning("media %s is not a picture; not shown", path)
            return None
        with self._lock:
            self._make_room(len(data))
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            target = self.directory / (self._stem(path) + ext)
            os.replace(tmp, target)
        return target

    def size(self) -> int:
        """Bytes held now."""
        return sum(f.stat().st_size for f in self.directory.iterdir() if f.is_file())

    def _make_room(self, incoming: int) -> None:
        files = []
        for f in self.directory.iterdir():
            if not f.is_file():
                continue
            if f.suffix == ".part":  # left by a crash mid-write
                f.unlink(missing_ok=True)
                continue
            st = f.stat()
            files.append((st.st_mtime, st.st_size, f))
        total = sum(size for _, size, _ in files)
        for _, size, f in sorted(files, key=lambda x: x[0]):
            if total + incoming <= self.max_bytes:
                break
            f.unlink(missing_ok=True)
            total -= size
