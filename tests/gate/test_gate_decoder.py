"""Decoding frames with zxing-cpp and pyzbar, and ``venue gate decode`` on generated images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gatekit import Issuer, qr_frame
from PIL import Image

from venue.decoder import Decoder, DecoderError


def test_both_decoders_read_a_generated_ticket(issuer: Issuer) -> None:
    code = issuer.code(7, 42)
    frame = qr_frame(code)
    for order in (["zxing"], ["pyzbar"]):
        found = Decoder(order).decode(frame)
        assert [f.text for f in found] == [code]
        assert found[0].decoder == order[0]


def test_fallback_to_pyzbar_and_empty_frame() -> None:
    blank = np.full((480, 640), 200, dtype=np.uint8)
    assert Decoder().decode(blank) == []
    # A symbology only pyzbar reads here (ISBN-10) leaves zxing out of the chain entirely.
    assert Decoder(["zxing", "pyzbar"], ["isbn10"]).names == ["pyzbar"]
    with pytest.raises(DecoderError):
        Decoder(["zxing"], ["isbn10"])
    with pytest.raises(DecoderError):
        Decoder(["zxing"], ["nonsense"])


def test_roi_crops_before_decoding(issuer: Issuer) -> None:
    code = issuer.code(7, 1)
    frame = qr_frame(code)
    assert Decoder(roi=[0.0, 0.0, 0.2, 0.2]).decode(frame) == []  # a corner without the code
    assert [f.text for f in Decoder(roi=[0.15, 0.1, 0.7, 0.8]).decode(frame)] == [code]


def test_color_frames_are_converted(issuer: Issuer) -> None:
    code = issuer.code(7, 3)
    rgb = np.stack([np.asarray(qr_frame(code))] * 3, axis=2)
    assert [f.text for f in Decoder().decode(rgb)] == [code]


def test_cli_decode_prints_file_tab_payload(tmp_path: Path, issuer: Issuer) -> None:
    a, b = issuer.code(7, 5), issuer.code(7, 6)
    qr_frame(a).save(tmp_path / "a.png")
    qr_frame(b).convert("RGB").save(tmp_path / "b.jpg", quality=90)
    Image.new("L", (640, 480), 180).save(tmp_path / "empty.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    cfg = tmp_path / "gate.toml"
    cfg.write_text('[decoder]\norder = ["zxing", "pyzbar"]\nformats = ["qrcode"]\n')
    files = [str(tmp_path / n) for n in ("a.png", "empty.png", "b.jpg")]
    out = subprocess.run(
        [sys.executable, "-m", "venue.cli", "gate", "--config", str(cfg), "decode", *files],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{files[0]}\t{a}", f"{files[2]}\t{b}"]
    bad = subprocess.run(
        [sys.executable, "-m", "venue.cli", "gate", "decode", str(tmp_path / "broken.png")],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 1 and bad.stdout == "" and "cannot read image" in bad.stderr
