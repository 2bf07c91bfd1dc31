"""Run events as they happen: one reader per process fans new events out to open streams."""
