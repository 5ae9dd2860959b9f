"""The audit service: projects every command, event and operational signal into an index
keyed by correlation id, and answers "what did this request cause?". `python -m mnemo.audit`."""
