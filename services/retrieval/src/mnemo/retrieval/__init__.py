"""The retrieval service: projects recorded memories into Qdrant and answers searches.
`python -m mnemo.retrieval` serves; `python -m mnemo.retrieval rebuild` replays the log."""
