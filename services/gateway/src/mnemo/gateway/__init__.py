"""The gateway: the only public door. Auth, validation, correlation ids, RFC 7807 errors;
it publishes commands and asks the query services over NATS, and never writes the log.
`python -m mnemo.gateway`."""

import importlib.metadata

# The gateway's version, as its package gives it: the OpenAPI document's and the MCP
# server's (stdio and HTTP alike).
VERSION = importlib.metadata.version("mnemo-gateway")
