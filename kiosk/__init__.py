"""kiosk role package."""
