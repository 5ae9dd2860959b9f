"""The synthesis service: reads recorded memories and appends what it derives from them —
facts in valid time (new, corroborated, superseded, negated) and the entities of a
subject's world — and keeps the profile and entity-graph read models of those events.
`python -m mnemo.synthesis` (or `... rebuild` to refill the read models from the log)."""
