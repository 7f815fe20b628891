"""The benchmark runs and its frames are what it says: degraded photos both decoders can read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_gate_smoke(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_gate.py"), "--frames", "16", "--repeat", "1",
         "--decisions", "50", "--save", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    m = re.search(r"read:\s+zxing-cpp (\d+)/(\d+), pyzbar (\d+)/\d+, gate \(zxing then pyzbar\) "
                  r"(\d+)/\d+.*wrong payloads: zxing 0, pyzbar 0, gate 0", text)
    assert m, text
    zx, total, zb, gate = (int(g) for g in m.groups())
    assert total == 14 and gate >= max(zx, zb) and zx > 0 and zb > 0
    for label in ("bare pyzbar decode", "bare zxing-cpp decode", "gate decode+decide+record",
                  "offline decision", "ratio full / bare pyzbar", "ratio full / bare zxing-cpp"):
        assert label in text
    assert len(list(tmp_path.glob("frame*.png"))) == 16
