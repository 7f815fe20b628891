"""kiosk role package: the Kivy touch app for check-in rewards, reward redemption and
self-checkout (docs/kiosk.md). The flow lives in :mod:`kiosk.presenter` (no Kivy); the views in
:mod:`kiosk.screens`; the hub contract in :mod:`kiosk.hub_client`."""
