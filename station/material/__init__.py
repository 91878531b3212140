"""Material on the line: feeder setups, reels and their floor life, loading, traceability."""
