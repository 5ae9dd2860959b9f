"""The ingest service: turns ingest commands into `memory.recorded` events and hosts the
log relay that publishes the log to JetStream. Run it with `python -m mnemo.ingest`."""
