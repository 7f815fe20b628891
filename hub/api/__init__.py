"""The hub's HTTP API (FastAPI): one router per area, built by :func:`hub.api.app.create_app`."""
