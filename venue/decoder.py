"""Frame decoding: zxing-cpp first, pyzbar as the fallback and for the symbologies zxing lacks.

Measured on degraded 640x480 ticket photos (DESIGN.md, bench/bench_gate.py) zxing-cpp is about ten
times faster than pyzbar and reads more damaged codes, so it goes first; pyzbar only runs when the
first decoder found nothing. Frames are converted to grayscale numpy arrays and cropped to the
region of interest once, before either decoder sees them. Both libraries are imported lazily, so
a gate that only has a serial scanner never loads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venue.errors import VenueError

log = logging.getLogger("venue.decoder")


class DecoderError(VenueError, RuntimeError):
    """A configured decoder library is missing or cannot read an image file."""


@dataclass(frozen=True, slots=True)
class Found:
    """One code found in a frame."""

    text: str
    format: str
    decoder: str


# Our format names -> (zxing-cpp BarcodeFormat attribute, pyzbar ZBarSymbol attribute).
FORMATS: dict[str, tuple[str | None, str | None]] = {
    "qrcode": ("QRCode", "QRCODE"),
    "microqr": ("MicroQRCode", None),
    "datamatrix": ("DataMatrix", None),
    "aztec": ("Aztec", None),
    "pdf417": ("PDF417", "PDF417"),
    "code128": ("Code128", "CODE128"),
    "code39": ("Code39", "CODE39"),
    "code93": ("Code93", "CODE93"),
    "codabar": ("Codabar", "CODABAR"),
    "ean13": ("EAN13", "EAN13"),
    "ean8": ("EAN8", "EAN8"),
    "upca": ("UPCA", "UPCA"),
    "upce": ("UPCE", "UPCE"),
    "itf": ("ITF", "I25"),
    "databar": ("DataBar", "DATABAR"),
    "isbn10": (None, "ISBN10"),
    "isbn13": ("ISBN", "ISBN13"),
}


def to_gray(image: Any) -> Any:
    """A 2-D uint8 numpy array from a numpy frame (gray, RGB/BGR, RGBA) or a PIL image."""
    import numpy as np

    if not isinstance(image, np.ndarray):
        image = np.asarray(image.convert("L"))
    if image.ndim == 3:
        if image.shape[2] == 4:
            image = image[:, :, :3]
        # Integer luma approximation: cheap and good enough for binarisation.
        image = (
            image[:, :, 0].astype(np.uint16) * 77
            + image[:, :, 1].astype(np.uint16) * 150
            + image[:, :, 2].astype(np.uint16) * 29
        ) >> 8
        image = image.astype(np.uint8)
    if image.dtype != np.uint8:
        image = image.astype(np.uint8)
    return np.ascontiguousarray(image)


def crop(gray: Any, roi: Sequence[float] | None) -> Any:
    """The region of interest ``[x, y, w, h]`` (fractions) of a grayscale frame."""
    if not roi:
        return gray
    h, w = gray.shape[:2]
    x0, y0 = int(roi[0] * w), int(roi[1] * h)
    x1, y1 = min(w, x0 + max(1, int(roi[2] * w))), min(h, y0 + max(1, int(roi[3] * h)))
    import numpy as np

    return np.ascontiguousarray(gray[y0:y1, x0:x1])


class Decoder:
    """Decode codes in frames with the configured decoders, in order, first hit wins."""

    def __init__(
        self,
        order: Sequence[str] = ("zxing", "pyzbar"),
        formats: Sequence[str] = ("qrcode",),
        roi: Sequence[float] | None = None,
    ) -> None:
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise DecoderError(f"unknown barcode formats {unknown}; known: {sorted(FORMATS)}")
        self.roi = list(roi) if roi else None
        self.formats = list(formats)
        self._steps: list[tuple[str, Callable[[Any], list[Found]]]] = []
        for name in order:
            if name == "zxing":
                step = self._zxing_step()
            elif name == "pyzbar":
                step = self._pyzbar_step()
            else:
                raise DecoderError(f"unknown decoder {name!r} (zxing, pyzbar)")
            if step is not None:
                self._steps.append((name, step))
        if not self._steps:
            raise DecoderError(f"no decoder in {list(order)} reads any of {self.formats}")

    @classmethod
    def from_config(cls, section: Any) -> Decoder:
        """From a config section with ``order``, ``formats`` and ``roi`` (a gate's decoder)."""
        return cls(section.order, section.formats, section.roi)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self._steps]

    def _zxing_step(self) -> Callable[[Any], list[Found]] | None:
        wanted = [z for f in self.formats if (z := FORMATS[f][0])]
        if not wanted:
            return None
        try:
            import zxingcpp
        except ImportError as exc:
            raise DecoderError(f"decoder 'zxing' needs zxing-cpp: {exc}") from None
        fmts = tuple(getattr(zxingcpp.BarcodeFormat, w) for w in wanted)
        read = zxingcpp.read_barcodes

        def step(gray: Any) -> list[Found]:
            codes = read(gray, formats=fmts)  # type: ignore[arg-type]
            return [Found(b.text, str(b.format), "zxing") for b in codes]

        return step

    def _pyzbar_step(self) -> Callable[[Any], list[Found]] | None:
        wanted = [z for f in self.formats if (z := FORMATS[f][1])]
        if not wanted:
            return None
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:  # OSError: libzbar0 missing
            raise DecoderError(f"decoder 'pyzbar' needs pyzbar and libzbar0: {exc}") from None
        symbols = [getattr(pyzbar.ZBarSymbol, w) for w in wanted]
        decode = pyzbar.decode

        def step(gray: Any) -> list[Found]:
            out = []
            for s in decode(gray, symbols=symbols):
                try:
                    text = s.data.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                out.append(Found(text, str(s.type), "pyzbar"))
            return out

        return step

    def decode(self, frame: Any) -> list[Found]:
        """Codes in one frame (numpy array or PIL image); an empty list when there are none."""
        gray = crop(to_gray(frame), self.roi)
        for _, step in self._steps:
            found = step(gray)
            if found:
                seen: set[str] = set()
                return [f for f in found if not (f.text in seen or seen.add(f.text))]  # type: ignore[func-returns-value]
        return []

    def decode_file(self, path: str | Path) -> list[Found]:
        """Codes in an image file.

        Raises:
            DecoderError: the file cannot be read as an image.
        """
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                img.load()
                return self.decode(img)
        except (OSError, UnidentifiedImageError) as exc:
            raise DecoderError(f"{path}: cannot read image: {exc}") from None
