"""The gateway: the only public door. Auth, validation, correlation ids, RFC 7807 errors;
it publishes commands and asks the query services over NATS, and never writes the log.
`python -m mnemo.gateway`."""
