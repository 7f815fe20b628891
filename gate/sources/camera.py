"""Frame sources: a Pi camera (picamera2), a USB camera (OpenCV/V4L2), or image files.

Each frame is decoded with the shared :class:`venue.decoder.Decoder` (the same settings as
``venue gate decode``). Camera libraries are imported only when a camera is configured, with an
error that says what to install when they are missing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gate.sources.base import Scan
from venue.clock import SYSTEM_CLOCK, Clock
from venue.decoder import Decoder, DecoderError
from venue.errors import VenueError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


class CameraUnavailable(VenueError, RuntimeError):
    """The configured camera library or device is not there."""


class _FrameSource:
    name = "camera"

    def __init__(self, decoder: Decoder, *, clock: Clock | None, direction: str | None) -> None:
        self.decoder = decoder
        self.clock = clock or SYSTEM_CLOCK
        self.direction = direction
        self.stats: Counter[str] = Counter()

    def _scans_of(self, frame: Any) -> Iterator[Scan]:
        self.stats["frames"] += 1
        mono = self.clock.monotonic()
        found = self.decoder.decode(frame)
        if found:
            self.stats["frames_with_codes"] += 1
        for f in found:
            if not f.text.isprintable() or len(f.text) > 512:
                self.stats["binary"] += 1
                continue
            yield Scan(f.text, self.name, self.clock.now(), mono, self.direction)

    def close(self) -> None:
        pass


class FolderSource(_FrameSource):
    """Decodes image files in a folder (sorted by name) or one file; for tests and technicians."""

    def __init__(
        self,
        path: str | Path,
        decoder: Decoder,
        *,
        loop: bool = False,
        clock: Clock | None = None,
        direction: str | None = None,
    ) -> None:
        super().__init__(decoder, clock=clock, direction=direction)
        self.path = Path(path)
        self.loop = loop

    def files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return [self.path]

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        from PIL import Image

        while not stop.is_set():
            for file in self.files():
                if stop.is_set():
                    return
                try:
                    with Image.open(file) as img:
                        img.load()
                        frame = img.convert("L")
                except OSError:
                    self.stats["unreadable"] += 1
                    continue
                yield from self._scans_of(frame)
            if not self.loop:
                return


class PiCameraSource(_FrameSource):
    """Raspberry Pi camera through picamera2 (libcamera); grayscale from the Y plane."""

    def __init__(
        self,
        decoder: Decoder,
        *,
        size: tuple[int, int] = (640, 480),
        fps: float = 15.0,
        clock: Clock | None = None,
        direction: str | None = None,
    ) -> None:
        super().__init__(decoder, clock=clock, direction=direction)
        self.size = size
        self.fps = fps
        self._cam: Any = None

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraUnavailable(
                "scanner kind 'camera' needs picamera2 (Raspberry Pi OS: apt install "
                f"python3-picamera2); for a USB camera use kind 'usb-camera' ({exc})"
            ) from None
        cam = Picamera2()
        cfg = cam.create_video_configuration(
            main={"size": self.size, "format": "YUV420"},
            controls={"FrameRate": self.fps},
        )
        cam.configure(cfg)
        cam.start()
        self._cam = cam
        height = self.size[1]
        while not stop.is_set():
            yuv = cam.capture_array("main")
            yield from self._scans_of(yuv[:height, : self.size[0]])

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            cam.stop()
            cam.close()


class CvCameraSource(_FrameSource):
    """USB camera through OpenCV (V4L2 backend)."""

    def __init__(
        self,
        decoder: Decoder,
        *,
        index: int = 0,
        size: tuple[int, int] = (640, 480),
        fps: float = 15.0,
        clock: Clock | None = None,
        direction: str | None = None,
    ) -> None:
        super().__init__(decoder, clock=clock, direction=direction)
        self.index = index
        self.size = size
        self.fps = fps
        self._cap: Any = None

    def scans(self, stop: threading.Event) -> Iterator[Scan]:
        try:
            import cv2
        except ImportError as exc:
            raise CameraUnavailable(
                "scanner kind 'usb-camera' needs OpenCV (pip install opencv-python-headless): "
                f"{exc}"
            ) from None
        cap = cv2.VideoCapture(self.index, cv2.CAP_V4L2)
        if not cap.isOpened():
            raise CameraUnavailable(f"cannot open camera {self.index} (/dev/video{self.index})")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        self._cap = cap
        while not stop.is_set():
            ok, frame = cap.read()
            if not ok:
                self.stats["read_failed"] += 1
                time.sleep(0.1)
                continue
            yield from self._scans_of(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


__all__ = ["CameraUnavailable", "CvCameraSource", "DecoderError", "FolderSource", "PiCameraSource"]
