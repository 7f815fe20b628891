"""What operators do to a gate over MQTT: commands (recorded with who asked) and what they see
(Home Assistant discovery of the gate's telemetry and its "open" button, through venue/ha.py).

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
from venue import ha
from venue.messages import Command, rfc3339

if TYPE_CHECKING:
    from gate.daemon import GateDaemon

log = logging.getLogger("venue.gate.operator")

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
        self.ha: ha.Discovery | None = None

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
        if hasattr(link, "when_connected") and hasattr(link, "subscribe"):
            self.ha = ha.attach(link, ha.GATE_ENTITIES, name=f"Gate {self.d.ref.device}")

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
        """Home Assistant device discovery payload (venue/ha.py): counters, mode, "open"."""
        return ha.discovery_payload(self.d.ref, ha.GATE_ENTITIES, name=f"Gate {self.d.ref.device}")
