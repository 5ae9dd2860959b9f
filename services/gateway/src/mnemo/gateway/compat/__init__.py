"""Compatibility surfaces: other memory APIs' wire formats, each a thin adapter over the
native commands and queries. Exports `eliza_router` (ElizaOS memory, under /api)."""

from mnemo.gateway.compat.eliza import eliza_router

__all__ = ["eliza_router"]
