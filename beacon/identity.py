"""The rotating (major, minor) scheme, re-exported for the beacon role.

The implementation lives in :mod:`venue.beacon_ids` in the shared core, because the hub resolves
pairs to installs and no role imports another role. See that module for the derivation.
"""

from venue.beacon_ids import (
    MIN_SECRET_BYTES,
    SCHEME,
    BeaconPair,
    PairIndex,
    beacon_pair,
    resolve,
    utc_day,
)

__all__ = [
    "MIN_SECRET_BYTES",
    "SCHEME",
    "BeaconPair",
    "PairIndex",
    "beacon_pair",
    "resolve",
    "utc_day",
]
