"""beacon role package."""
