"""HTTP routes of the native /v1 surface, one module per concern."""
