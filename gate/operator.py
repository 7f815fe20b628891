"""What operators do to a gate over MQTT: commands (recorded with who asked) and what they see
(Home Assistant discovery of the gate's telemetry).

Commands (docs/contracts.md): ``open`` (one pulse, no ticket), ``lock``/``unlock``,
``free-passage {"on"}`` (relay held open, scans still decided and logged), ``reload`` (timing and
offline settings from the config file), ``ping`` (telemetry), ``refresh-replica``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from gate.config import GateConfig
from venue.messages import Command, dump_json, rfc3339
from venue.topics import ha_discovery

if TYPE_CHECKING:
    from gate.daemon import GateDaemon

log = logging.getLogger("venue.gate.operator")

# Telemetry fields an operator's Home Assistant shows: key -> (name, unit, binary).
HA_FIELDS: dict[str, tuple[str, str | None, bool]] = {
    "offline": ("Offline", None, True),
    "scans_per_min": ("Scans per minute", "scans/min", False),
    "admits": ("Admissions", None, False),
    "rejects": ("Rejections", None, False),
    "replica_age_s": ("Replica age", "s", False),
    "queue_depth": ("Outbox depth", None, False),
    "garbage_total": ("Unreadable scans", None, False),
    "mode": ("Mode", None, False),
}


def telemetry(d: GateDaemon) -> dict[str, Any]:
    """What a gate reports every ``telemetry_s`` and answers to ``ping``."""
    link = d.link.stats() if hasattr(d.link, "stats") else {}
    garbage: Counter[str] = Counter()
    scanners: dict[str, dict[str, int]] = {}
    for i, src in enumerate(d.sources):
        for k in ("too_long", "not_utf8", "binary", "fragment"):
            garbage[k] += src.stats.get(k, 0)
        scanners[f"{i}:{src.name}"] = dict(src.stats)
    age = d.refresher.age_s()
    return {
        "mode": d.mode,
        "offline": d.fallback.is_offline,
        "scans_per_min": len(d.scan_times),
        "scans": d.counts["scans"],
        "admits": d.counts["admits"],
        "rejects": d.counts["rejects"],
        "debounced": d.counts["debounced"],
        "annulled": d.counts["annulled"],
        "offline_decisions": d.counts["offline_decisions"],
        "replica_age_s": None if age is None else round(age, 1),
        "replica_refreshes": d.refresher.refreshes,
        "queue_depth": link.get("outbox_depth", 0),
        "garbage": dict(garbage),
        "garbage_total": sum(garbage.values()),
        "scanners": scanners,
    }


class Operator:
    """Command handlers of one :class:`gate.daemon.GateDaemon`."""

    def __init__(self, daemon: GateDaemon) -> None:
        self.d = daemon

    def register(self, link: Any) -> None:
        for name, handler in (
            ("open", self.open),
            ("lock", self.lock),
            ("unlock", self.unlock),
            ("free-passage", self.free_passage),
            ("reload", self.reload),
            ("ping", self.ping),
            ("refresh-replica", self.refresh),
        ):
            link.on_command(name, handler)
        if hasattr(link, "when_connected"):
            link.when_connected(lambda: self.publish_discovery(link))

    def _record(self, cmd: Command) -> str:
        by = str(cmd.args.get("by") or cmd.by or "unknown")
        self.d.journal.operation(rfc3339(self.d.clock.now()), cmd.name, by, json.dumps(cmd.args))
        log.warning("command %s by %s", cmd.name, by)
        return by

    def open(self, cmd: Command) -> dict[str, Any]:
        """Operator override: open once, recorded with who asked (no ticket, no redemption)."""
        by = self._record(cmd)
        self.d.turnstile.open_once(expect_passage=False)
        self.d.turnstile.signal(True)
        return {"opened": True, "by": by}

    def lock(self, cmd: Command) -> dict[str, Any]:
        self._record(cmd)
        self.d.mode = "locked"
        self.d.turnstile.hold_open(False)
        return {"mode": self.d.mode}

    def unlock(self, cmd: Command) -> dict[str, Any]:
        self._record(cmd)
        self.d.mode = "normal"
        self.d.turnstile.hold_open(False)
        return {"mode": self.d.mode}

    def free_passage(self, cmd: Command) -> dict[str, Any]:
        self._record(cmd)
        on = bool(cmd.args.get("on", True))
        self.d.mode = "free-passage" if on else "normal"
        self.d.turnstile.hold_open(on)
        return {"mode": self.d.mode}

    def reload(self, cmd: Command) -> dict[str, Any]:
        """Re-read the timing and offline settings from the config file; refresh the replica."""
        self._record(cmd)
        d = self.d
        if d.config_path:
            from venue.config import load_config

            new = load_config(GateConfig, d.config_path).gate
            d.debouncer.window_s = new.debounce_s
            d.online.budget_s = new.budget_ms / 1000.0
            d.offline.max_age_s = new.replica_max_age_s
            d.offline.fail_open = new.fail_open
            d.g = new
        d.refresher.hint()
        return {"reloaded": bool(d.config_path)}

    def ping(self, cmd: Command) -> dict[str, Any]:
        return {"pong": True, "time": time.time(), **self.d.telemetry()}

    def refresh(self, cmd: Command) -> dict[str, Any]:
        self.d.refresher.hint()
        return {"refreshing": True}

    def prune(self) -> int:
        """Forget settled, uploaded journal rows older than ``journal_keep_days``."""
        cutoff = self.d.clock.now() - timedelta(days=self.d.g.journal_keep_days)
        n = self.d.journal.prune(rfc3339(cutoff))
        if n:
            log.info("pruned %d journal rows older than %s", n, rfc3339(cutoff))
        return n

    def housekeeping(self, stop: threading.Event) -> None:
        """Telemetry every ``telemetry_s``; journal pruning once a day. Runs on its own thread."""
        next_prune = 0.0
        while not stop.wait(self.d.g.telemetry_s):
            if self.d.clock.monotonic() >= next_prune:
                next_prune = self.d.clock.monotonic() + 86400.0
                try:
                    self.prune()
                except Exception:
                    log.exception("journal pruning failed")
            try:
                self.d.link.publish_telemetry(self.d.telemetry())
            except Exception:
                log.debug("telemetry failed", exc_info=True)

    def discovery(self) -> dict[str, Any]:
        """Home Assistant device discovery payload: one entity per telemetry field."""
        ref = self.d.ref
        components: dict[str, Any] = {}
        for key, (name, unit, binary) in HA_FIELDS.items():
            comp: dict[str, Any] = {
                "platform": "binary_sensor" if binary else "sensor",
                "name": name,
                "unique_id": f"venue_{ref.site}_{ref.device}_{key}",
                "state_topic": ref.telemetry(),
                "value_template": (
                    f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}"
                    if binary
                    else f"{{{{ value_json.{key} }}}}"
                ),
            }
            if unit:
                comp["unit_of_measurement"] = unit
            components[key] = comp
        return {
            "device": {
                "identifiers": [f"venue_{ref.site}_{ref.device}"],
                "name": f"Gate {ref.device}",
                "manufacturer": "venue",
                "model": "gate",
            },
            "origin": {"name": "venue"},
            "availability_topic": ref.status(),
            "availability_template": "{{ value_json.state }}",
            "payload_available": "online",
            "payload_not_available": "offline",
            "components": components,
        }

    def publish_discovery(self, link: Any) -> None:
        """Retained, on every connect (runs on paho's thread: publish and return)."""
        link.publish(ha_discovery(self.d.ref.device), dump_json(self.discovery()), retain=True)
