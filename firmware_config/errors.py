"""Errors of the technicians' tools; each message is one line a technician can act on."""

from __future__ import annotations

from venue.errors import VenueError


class UsageError(VenueError, ValueError):
    """A bad option (unknown role, bad id, missing file): the CLI exits with status 2."""


class ProvisionError(VenueError):
    """The inventory cannot be read or changed as asked: exit status 1."""


class FlashError(VenueError):
    """Writing, verifying or customising an image failed, or the target is refused: status 1."""
