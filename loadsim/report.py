"""Figures of a run, and how they are printed (text for people, ``--json`` for machines)."""

from __future__ import annotations

import json
import math
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency(values: list[float]) -> dict[str, float | int | None]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 2)

    return {"n": len(values), "p50": r(percentile(values, 50)), "p95": r(percentile(values, 95)),
            "p99": r(percentile(values, 99)), "max": r(max(values) if values else None)}


def _ms(x: Any) -> str:
    return "-" if x is None else f"{x:.1f}"


def text(fig: dict[str, Any]) -> str:
    """The run's figures as a few lines of text."""
    p, a, s, k = fig["plan"], fig["audit"], fig["scan_ms"], fig["kiosk_ms"]
    lines = [
        f"loadsim: {p['gates']} gates x {p['scans_per_min']} scans/min, {p['kiosks']} kiosks x "
        f"{p['kiosk_per_min']}/min, {p['beacons']} beacon scanners x "
        f"{p['beacon_visits_per_min']} visits/min over {p['phones']} phones, "
        + ("1 hub on SQLite, " if p.get("sqlite") else
           f"{p['replicas']} hub replicas on PostgreSQL, ")
        + f"{p['duration_s']} s planned, "
        f"{fig['load_s']:.1f} s taken",
        f"admissions/s {fig['admissions_per_s']:.1f} ({fig['admitted_online']} online, "
        f"{fig['admitted_offline']} offline via MQTT, {fig['rejected']} re-scans rejected); "
        f"scans/s {fig['scans_per_s']:.1f}",
        f"scan-to-decision ms: p50 {_ms(s['p50'])} p95 {_ms(s['p95'])} p99 {_ms(s['p99'])} "
        f"max {_ms(s['max'])} (n={s['n']}"
        + (f"; {fig['decided_locally']} decided by the gate after its "
           f"{p['gate_budget_s'] * 1000:.0f} ms budget)" if p["gate_budget_s"] else ")"),
        f"kiosk identify+visit ms: p50 {_ms(k['p50'])} p95 {_ms(k['p95'])} p99 {_ms(k['p99'])} "
        f"(n={k['n']}, rate-limited {fig['rate_limited']})",
        f"MQTT events/s {fig['events_per_s']:.1f} ({fig['events']} events; all stored "
        f"{fig['drain_s']:.1f} s after the load stopped)" if a["lost_events"] == 0 else
        f"MQTT events/s {fig['events_per_s']:.1f} ({fig['events']} events)",
        f"lost: redemptions {a['lost_redemptions']}, events {a['lost_events']}, ledger "
        f"{a['lost_ledger']} | doubled: redemptions {a['doubled_redemptions']}, admissions "
        f"{a['doubled_admissions']}, events {a['doubled_events']}, ledger {a['doubled_ledger']}"
        f" | answer mismatches {a['answer_mismatch']}, offline refused {a['offline_rejected']}",
        f"lost {a['lost']}, doubled {a['doubled']}",
    ]
    if fig.get("kill"):
        kl = fig["kill"]
        back = kl.get("restarted_s")
        lines.append(f"killed {kl['replica']} (SIGKILL) at {kl['at_s']:.1f} s, "
                     + ("NOT restarted" if back is None else f"restarted at {back:.1f} s")
                     + f"; requests failed over: {fig['failovers']}")
    cpu = ", ".join(f"{name} {sec:.1f}" for name, sec in fig["cpu_s"].items())
    lines.append(f"CPU seconds over {fig['measured_s']:.1f} s: {cpu} "
                 f"(machine = every process on it; {fig['cores']} cores, load average "
                 f"{fig['loadavg']}; postgres counts backends seen by a 1 s sampler)")
    if fig["errors"]:
        lines.append(f"errors ({len(fig['errors'])}): " + "; ".join(fig["errors"][:5]))
    lines.append("PASS" if fig["ok"] else "FAIL")
    return "\n".join(lines)


def as_json(fig: dict[str, Any]) -> str:
    return json.dumps(fig, indent=None, separators=(",", ":"), sort_keys=True)
