"""Card QR scanning: frames from picamera2 (a Pi) or OpenCV, decoded with the shared decoder.

Only zxing-cpp runs here: it is the fastest and most forgiving decoder measured in DESIGN.md, and
a customer holds a phone screen still, so the gate's pyzbar fallback is not needed. The loop only
grabs frames while ``active()`` says the customer is on a screen that accepts a card, and reports
a payload once per presentation (the same text again within ``repeat_s`` is ignored).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kiosk.config import CameraSection
from venue.decoder import Decoder

log = logging.getLogger("venue.kiosk.camera")


def decode(frame: Any) -> list[str]:
    """QR payloads in a frame (numpy array: gray, RGB or BGR) or a PIL image."""
    return [found.text for found in _card_decoder().decode(frame)]


@lru_cache(maxsize=1)
def _card_decoder() -> Decoder:
    # Cards are QR only and shown close to the camera: zxing-cpp alone reads them.
    return Decoder(order=("zxing",), formats=("qrcode",))


class _OpenCvSource:
    def __init__(self, cfg: CameraSection) -> None:
        import cv2

        self.cap = cv2.VideoCapture(cfg.index)
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        if not self.cap.isOpened():
            raise RuntimeError(f"cannot open camera {cfg.index}")

    def read(self) -> Any:
        ok, frame = self.cap.read()
        return frame if ok else None

    def close(self) -> None:
        self.cap.release()


class _PiCameraSource:
    def __init__(self, cfg: CameraSection) -> None:
        from picamera2 import Picamera2

        self.cam = Picamera2()
        self.cam.configure(self.cam.create_video_configuration(
            main={"size": (cfg.width, cfg.height), "format": "YUV420"}))
        self.cam.start()
        self.height = cfg.height

    def read(self) -> Any:
        return self.cam.capture_array("main")[: self.height]  # the Y plane is the gray image

    def close(self) -> None:
        self.cam.stop()
        self.cam.close()


class CardScanner:
    """A background loop that reads frames and reports QR payloads."""

    def __init__(
        self,
        cfg: CameraSection,
        *,
        on_code: Callable[[str], None],
        active: Callable[[], bool],
        source: Any = None,
        repeat_s: float = 3.0,
    ) -> None:
        self.cfg = cfg
        self.on_code = on_code
        self.active = active
        self.repeat_s = repeat_s
        self._source = source
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[str, float] = ("", 0.0)

    def start(self) -> None:
        if self._source is None:
            self._source = _PiCameraSource(self.cfg) if self.cfg.kind == "picamera2" \
                else _OpenCvSource(self.cfg)
        self._thread = threading.Thread(target=self._loop, name="kiosk-camera", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        period = 1.0 / max(self.cfg.fps, 0.5)
        while not self._stop.wait(period):
            if not self.active():
                continue
            try:
                frame = self._source.read()
                texts = decode(frame) if frame is not None else []
            except Exception:
                log.exception("camera frame failed")
                continue
            now = time.monotonic()
            for text in texts:
                if text == self._last[0] and now - self._last[1] < self.repeat_s:
                    continue
                self._last = (text, now)
                self.on_code(text)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._source is not None:
            self._source.close()
