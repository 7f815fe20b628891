"""gate role package."""
