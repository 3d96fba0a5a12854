"""The platform's API at /api/v1/: the Events API and the directory read API (DRF)."""
