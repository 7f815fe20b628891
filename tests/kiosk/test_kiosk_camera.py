"""Card QR scanning: real QR images through zxing-cpp, reported once per presentation."""

from __future__ import annotations

import io
import threading

import numpy as np
import segno
from helpers_mqtt import wait_for
from PIL import Image

from kiosk.camera import CardScanner, decode
from kiosk.config import CameraSection


def qr_frame(text: str) -> np.ndarray:
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=4)
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    canvas = Image.new("RGB", (640, 480), (200, 200, 200))
    canvas.paste(img, (100, 60))
    return np.asarray(canvas)


class FrameSource:
    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames
        self.reads = 0
        self.closed = False

    def read(self) -> np.ndarray | None:
        self.reads += 1
        return self.frames[min(self.reads - 1, len(self.frames) - 1)]

    def close(self) -> None:
        self.closed = True


def test_decode_reads_a_card_and_ignores_noise() -> None:
    assert decode(qr_frame("card-demo-0001")) == ["card-demo-0001"]
    noise = np.random.default_rng(1).integers(0, 255, (480, 640), dtype=np.uint8)
    assert decode(noise) == []


def test_scanner_reports_once_per_presentation_and_only_when_active() -> None:
    found: list[str] = []
    active = threading.Event()
    asked = []

    def is_active() -> bool:
        asked.append(1)
        return active.is_set()

    src = FrameSource([qr_frame("card-demo-0001")])
    scanner = CardScanner(CameraSection(kind="opencv", fps=50.0), on_code=found.append,
                          active=is_active, source=src, repeat_s=60.0)
    scanner.start()
    try:
        wait_for(lambda: len(asked) >= 5, 5, "the loop asking whether to scan")
        assert src.reads == 0  # not on a screen that takes a card: no frames taken
        active.set()
        wait_for(lambda: src.reads >= 5, 5, "frames read")
        assert found == ["card-demo-0001"]  # held in front of the camera: one report
    finally:
        scanner.stop()
    assert src.closed
