"""Gate test helpers: a signing key, codes, and replica answers shaped like the hub's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from venue.codes import imported_hash, new_private_key, public_key_bytes, sign_code

SALT = bytes.fromhex("00112233445566778899aabbccddeeff")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Issuer:
    """Signs codes like the hub and builds replica answers (docs/contracts.md) for them."""

    def __init__(self) -> None:
        self.key = new_private_key()
        self.key_id = 1

    def code(self, series: int = 7, serial: int = 1, **kw: Any) -> str:
        return sign_code(self.key, key_id=self.key_id, series_id=series, serial=serial, **kw)

    def replica(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "cursor": "c1",
            "full": True,
            "hub_time": "2026-01-01T11:00:00Z",
            "hash_salt": SALT.hex(),
            "keys": [
                {
                    "key_id": self.key_id,
                    "public_key": base64.b64encode(public_key_bytes(self.key)).decode(),
                    "status": "active",
                }
            ],
            "series": [
                series(7),
                series(8, code_mode="imported"),
                series(9, code_mode="shared"),
                series(10, entry_rule="antipassback", entries_per_code=100),
                series(11, valid_until="2025-12-31T00:00:00Z"),
                series(12, valid_from="2026-02-01T00:00:00Z"),
                series(13, entry_rule="reentry", entries_per_code=2),
            ],
            "codes": [{"ref": "7:1", "status": "issued"}, {"ref": "7:2", "status": "revoked"}],
            "imported": [{"series": 8, "hash": imported_hash(SALT, "IMPORTED-1")}],
            "shared": [{"series": 9, "code": "SUMMER24"}],
            "used": [],
        }
        body.update(extra)
        return body


def series(id_: int, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id_,
        "name": f"S{id_}",
        "kind": "ticket",
        "code_mode": "generated",
        "valid_from": None,
        "valid_until": None,
        "issue_limit": 1000,
        "issued_count": 100,
        "entries_per_code": 1,
        "entry_rule": "single",
        "active": True,
    }
    body.update(kw)
    return body


def after(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def qr_frame(text: str, *, size: tuple[int, int] = (640, 480), scale: int = 4) -> Any:
    """A clean 640x480 grayscale photo-like frame with the QR of ``text`` in the middle (PIL)."""
    import numpy as np
    import segno
    from PIL import Image

    qr = segno.make_qr(text, error="m")
    m = np.array([[0 if cell else 255 for cell in row] for row in qr.matrix], dtype=np.uint8)
    m = np.kron(m, np.ones((scale, scale), dtype=np.uint8))
    canvas = np.full((size[1], size[0]), 235, dtype=np.uint8)
    quiet = 4 * scale
    h, w = m.shape
    y, x = (size[1] - h) // 2, (size[0] - w) // 2
    canvas[y - quiet : y + h + quiet, x - quiet : x + w + quiet] = 255
    canvas[y : y + h, x : x + w] = m
    return Image.fromarray(canvas, mode="L")
