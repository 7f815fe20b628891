"""hub role package."""
