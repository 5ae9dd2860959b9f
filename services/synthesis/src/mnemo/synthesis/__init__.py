"""The synthesis service: reads recorded memories and appends what it derives from them
(facts now; entities, supersession and profiles build on this). `python -m mnemo.synthesis`."""
