"""Technicians' tools: provision a device, write its SD card, and the systemd units.

- :mod:`firmware_config.provision` (``venue provision``): identity, broker credentials and ACL,
  hub token, role config, optional TLS certificate, first-boot files, in an inventory folder;
- :mod:`firmware_config.flash` (``venue flash``): stream an image to a card, verify it, add the
  first-boot files to its boot partition with mtools;
- :mod:`firmware_config.units`: the ``systemd/venue-*.service`` units.

It imports no role package: a role's config class is looked up by name only to check a
generated config when that role is installed.
"""
