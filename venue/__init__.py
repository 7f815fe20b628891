"""venue: self-service devices for a venue (kiosk, gate, beacon) and their central hub.

This package is the shared core that every role uses: config, the MQTT contract, the MQTT link
with its durable outbox, ticket codes, phone numbers and the service runtime.
"""

__version__ = "0.1.0"
