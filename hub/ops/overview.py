"""What the dashboard shows, computed from the hub's tables (and the live MQTT view when there is
one): device rows, gate throughput and occupancy per minute, alerts and the register queue.

The shaping is pure (:func:`merge_devices`, :func:`throughput`, :func:`occupancy`,
:func:`alerts`) over plain rows, so it is tested without a database; :func:`overview` reads the
rows in one read transaction and calls them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.loyalty import shop
from hub.models import Conflict, Device, Redemption
from venue.messages import rfc3339
from venue.monitor import REJECT_BURST

WINDOW = timedelta(hours=1)
"""How far back the charts look."""
BUCKET = timedelta(minutes=1)
MAX_ROWS = 50_000
"""Most redemption rows read for the charts (a busy hour at a big venue; beyond it the oldest
minutes are cut, which the answer says in ``truncated``)."""
STALE = timedelta(minutes=5)
"""An ``online`` device not heard from for this long is flagged ``silent``."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One redemption row as the charts need it."""

    gate: str
    result: str
    direction: str
    annulled: bool
    scanned_at: datetime


def _t(when: datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def merge_devices(table: Iterable[Device], live: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Device rows: the hub's ``devices`` table, overlaid with the live view's state, telemetry
    and counters (the live view hears telemetry, which the table does not keep)."""
    rows: dict[str, dict[str, Any]] = {}
    for d in table:
        rows[d.key] = {
            "key": d.key, "site": d.site, "role": d.role, "device": d.device, "state": d.state,
            "version": d.version or "", "started_at": d.started_at or "",
            "last_seen": _t(d.last_seen), "status_at": _t(d.status_at),
            "outbox": None, "counters": {},
        }
    for v in live:
        key = f"{v['site']}/{v['role']}/{v['device']}"
        row = rows.setdefault(key, {
            "key": key, "site": v["site"], "role": v["role"], "device": v["device"],
            "state": "unknown", "version": "", "started_at": "", "last_seen": None,
            "status_at": None, "outbox": None, "counters": {},
        })
        if v.get("state") not in (None, "unknown"):
            row["state"] = v["state"]
        row["version"] = v.get("version") or row["version"]
        if v.get("last_seen") and (row["last_seen"] is None or v["last_seen"] > row["last_seen"]):
            row["last_seen"] = v["last_seen"]
        telemetry = v.get("telemetry") or {}
        depth = telemetry.get("outbox_depth")
        row["outbox"] = depth if isinstance(depth, int) else row["outbox"]
        row["counters"] = {k: v[k] for k in ("admits", "rejects", "offline_decisions",
                                             "occupancy", "presence") if k in v}
    return sorted(rows.values(), key=lambda r: (r["role"], r["site"], r["device"]))


def _bucket(when: datetime, start: datetime) -> int:
    return (when - start) // BUCKET  # floor: a scan before the start is outside


def throughput(attempts: Iterable[Attempt], start: datetime, now: datetime) -> dict[str, Any]:
    """Admissions and rejections per gate per minute from ``start`` to ``now``."""
    n = max(1, _bucket(now, start) + 1)
    gates: dict[str, dict[str, list[int]]] = {}
    for a in attempts:
        i = _bucket(a.scanned_at, start)
        if not 0 <= i < n:
            continue
        g = gates.setdefault(a.gate, {"admit": [0] * n, "reject": [0] * n})
        g["admit" if a.result == "admit" and not a.annulled else "reject"][i] += 1
    return {"start": rfc3339(start), "bucket_s": int(BUCKET.total_seconds()), "buckets": n,
            "gates": dict(sorted(gates.items()))}


def occupancy(attempts: Iterable[Attempt], before: int, start: datetime,
              now: datetime) -> dict[str, Any]:
    """People inside at the end of each minute: ``before`` (entries - exits up to ``start``)
    plus admitted entries minus admitted exits since (annulled admissions did not pass)."""
    n = max(1, _bucket(now, start) + 1)
    delta = [0] * n
    for a in attempts:
        i = _bucket(a.scanned_at, start)
        if a.result != "admit" or a.annulled or not 0 <= i < n:
            continue
        delta[i] += -1 if a.direction == "out" else 1
    series, level = [], before
    for d in delta:
        level += d
        series.append(level)
    return {"start": rfc3339(start), "bucket_s": int(BUCKET.total_seconds()), "inside": series,
            "now": series[-1]}


def reject_bursts(attempts: Sequence[Attempt], burst: int = REJECT_BURST) -> list[dict[str, Any]]:
    """Gates whose last ``burst`` attempts were all rejected (a broken gate or an attack)."""
    last: dict[str, list[Attempt]] = {}
    for a in attempts:  # in time order
        last.setdefault(a.gate, []).append(a)
    out = []
    for gate, rows in sorted(last.items()):
        tail = rows[-burst:]
        if len(tail) == burst and all(r.result == "reject" for r in tail):
            out.append({"kind": "reject_burst", "device": gate, "at": rfc3339(tail[-1].scanned_at),
                        "message": f"{gate}: the last {burst} scans were all rejected"})
    return out


def alerts(devices: Sequence[dict[str, Any]], conflicts: Iterable[Conflict],
           bursts: Sequence[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """What needs an operator: offline or silent devices, offline conflicts, reject bursts."""
    out: list[dict[str, Any]] = []
    for d in devices:
        if d["state"] == "offline":
            out.append({"kind": "device_offline", "device": d["key"], "at": d["status_at"],
                        "message": f"{d['role']} {d['device']} is offline"})
        elif d["state"] == "online" and d["last_seen"] and d["role"] != "hub":
            seen = datetime.fromisoformat(d["last_seen"].replace("Z", "+00:00"))
            if now - seen > STALE:
                out.append({"kind": "device_silent", "device": d["key"], "at": d["last_seen"],
                            "message": f"{d['role']} {d['device']} has sent nothing for "
                                       f"{int((now - seen).total_seconds() // 60)} min"})
    for c in conflicts:
        first = f" (first used at {c.first_gate})" if c.first_gate else ""
        out.append({"kind": "offline_conflict", "device": c.gate, "at": rfc3339(c.detected_at),
                    "message": f"ticket {c.ref} admitted offline at {c.gate}{first}"})
    out.extend(bursts)
    return out


def register_queue(session: Session) -> list[dict[str, Any]]:
    """Kiosk orders waiting for the register (customer ids only, never phone numbers)."""
    return [{"check": c.id, "number": c.number, "business": c.business_id,
             "total": shop.money(c.total), "currency": c.currency, "items": len(c.lines),
             "created_at": rfc3339(c.created_at)}
            for c in shop.queue(session, None)][:100]


def overview(session: Session, live: Sequence[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Everything the dashboard shows, read in one transaction."""
    start = (now - WINDOW).replace(second=0, microsecond=0)
    rows = session.execute(
        select(Redemption.gate, Redemption.result, Redemption.direction, Redemption.annulled_at,
               Redemption.scanned_at)
        .where(Redemption.mode == "redeem", Redemption.scanned_at >= start)
        .order_by(Redemption.scanned_at.desc(), Redemption.id.desc()).limit(MAX_ROWS)
    ).all()
    attempts = [Attempt(r.gate, r.result, r.direction, r.annulled_at is not None, r.scanned_at)
                for r in reversed(rows)]
    before = 0
    for direction, n in session.execute(
        select(Redemption.direction, func.count())
        .where(Redemption.mode == "redeem", Redemption.result == "admit",
               Redemption.annulled_at.is_(None), Redemption.scanned_at < start)
        .group_by(Redemption.direction)
    ).all():
        before += -int(n) if direction == "out" else int(n)
    devices = merge_devices(session.scalars(select(Device)), live)
    conflicts = list(session.scalars(select(Conflict).order_by(Conflict.id.desc()).limit(20)))
    return {
        "at": rfc3339(now),
        "devices": devices,
        "alerts": alerts(devices, conflicts, reject_bursts(attempts), now),
        "throughput": throughput(attempts, start, now),
        "occupancy": occupancy(attempts, before, start, now),
        "truncated": len(rows) >= MAX_ROWS,
        "register": register_queue(session),
    }
