"""Starting the hub: migrate, make sure the keys and the admin token exist, serve."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from hub import keys
from hub.auth import ensure_token
from hub.config import HubConfig
from hub.db import Database, migrate
from venue.clock import Clock

log = logging.getLogger("venue.hub")


def bootstrap(db: Database, *, clock: Clock, admin_token: str | None = None) -> None:
    """Bring the database to the current schema and make the hub's secrets on first start."""
    migrate(db.engine)
    now = clock.now()
    with db.write() as s:
        keys.hash_salt(s)
        keys.signing_key(s, now=now)
        if admin_token:
            ensure_token(s, admin_token, role="admin", device="admin", now=now)


def serve(config: HubConfig, db: Database, *, clock: Clock) -> int:
    """Run the hub until interrupted: migrations, MQTT ingest (unless disabled), HTTP API."""
    import uvicorn

    from hub.api.app import create_app
    from venue.phone import set_default_region

    bootstrap(db, clock=clock, admin_token=config.hub.admin_token)
    set_default_region(config.hub.phone_region)
    from hub.loyalty import secret_file
    from hub.notify import service as notify

    secret_file.adopt(db, Path(config.hub.secrets_file
                               or Path(config.device.data_dir) / "hub-secrets.json"),
                      now=clock.now())
    sender = notify.start(config, db, clock=clock)
    link, ingest, ops = None, None, None
    if config.hub.mqtt:
        link, ingest = start_ingest(config, db, clock=clock)
        ops = start_ops(config, clock=clock)
    publish = None if link is None else link.publish_event
    app = create_app(db, clock=clock, annul_window=timedelta(seconds=config.hub.annul_window_s),
                     publish=publish,
                     identify_limits=(config.hub.identify_per_device_per_min,
                                      config.hub.identify_per_phone_per_min))
    if ops is not None:
        app.state.hub.extra["ops"] = ops  # commands and live events (hub.api.operators)
    app.state.hub.extra["wallet_config"] = config.wallet  # links, limits (hub.wallet.web)
    triggers = start_triggers(config, db, clock=clock)
    host, _, port = config.hub.listen.rpartition(":")
    log.info("hub listening on http://%s:%s (database %s)", host, port, db.dialect)
    try:
        # Open dashboards hold event streams: without a limit a stop would wait for them.
        uvicorn.run(app, host=host.strip("[]"), port=int(port), log_level="warning",
                    access_log=False, timeout_graceful_shutdown=5)
    finally:
        if triggers is not None:
            triggers.stop()
        if sender is not None:
            sender.stop()
        if ops is not None:
            ops.stop()
        if ingest is not None:
            ingest.stop()
        if link is not None:
            link.stop()
    return 0


def start_ingest(config: HubConfig, db: Database, *, clock: Clock) -> tuple[Any, Any]:
    """Connect the shared MQTT link (manual acks: a message is acked after its commit) and
    start the ingest worker."""
    from hub.ingest import MqttIngest
    from venue.mqtt import MqttLink
    from venue.outbox import Outbox
    from venue.topics import DeviceRef

    data = Path(config.device.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    ref = DeviceRef(config.device.site, "hub", config.device.id)
    link = MqttLink(ref, config.mqtt, outbox=Outbox(data / "hub-outbox.sqlite3"), clock=clock,
                    manual_ack=True)
    ingest = MqttIngest(db, link, clock=clock, share_group=config.hub.share_group)
    from venue import ha

    ha.attach(link, ha.HUB_ENTITIES, name=f"Hub {config.device.id}")  # Home Assistant sees it
    ingest.start()
    link.start()
    return link, ingest


def start_ops(config: HubConfig, *, clock: Clock) -> Any:
    """The operators' live view and command link: a second, observer connection to the broker
    (see :mod:`hub.ops.live`)."""
    from hub.ops.live import OpsLive

    ops = OpsLive(config.mqtt, clock=clock)
    ops.start()
    return ops


def start_triggers(config: HubConfig, db: Database, *, clock: Clock) -> Any:
    """The wallet's birthday/welcome/win-back job, every ``[wallet] triggers_interval_s``."""
    if config.wallet.triggers_interval_s <= 0:
        return None
    from hub.wallet.triggers import TriggerThread

    return TriggerThread(db, clock=clock, interval_s=config.wallet.triggers_interval_s,
                         tz=config.wallet.timezone).start()
