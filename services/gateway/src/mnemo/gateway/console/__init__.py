"""The operator console: pages and assets served under /console (`console_router`)."""

from mnemo.gateway.console.pages import console_router

__all__ = ["console_router"]
