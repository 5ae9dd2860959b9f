"""Mnemo as a Model Context Protocol server (issue #16): tools over the public API,
served on stdio (`mnemo mcp`) and on the gateway (/mcp)."""
