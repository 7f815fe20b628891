"""firmware_config role package."""
